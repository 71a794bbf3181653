//! The embedded catalog: one SQLite file in WAL mode.
//!
//! The upload path's two writes, burning a token and committing an upload, go to a writer
//! thread that commits them in batches ([`writer`]); its key and custom field lookups run
//! inline ([`reads`]). Everything else goes through sqlx: writes through a pool of exactly one
//! connection, reads through their own pool, which sees the last committed state.
//!
//! Every write transaction, on either side, starts with `BEGIN IMMEDIATE`: it takes the write
//! lock first (waiting up to the busy timeout), so a transaction never fails to upgrade a read
//! to a write (`SQLITE_BUSY`), and writes of one path are serialised, which keeps version
//! numbers free of gaps and duplicates.

mod reads;
pub mod snapshot;
mod writer;

use std::path::PathBuf;
use std::str::FromStr;

use anyhow::Context;
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use subtle::ConstantTimeEq;

use super::commit;
use super::resumable;
use super::rows::{
    account_from_row, all_endpoints, bind_endpoint, bind_outbox_row, claimed_from_row,
    delivery_log, delivery_record_from_row, endpoint_from_row, select_due, upsert_endpoint,
    CONFIG_ENDPOINT_IDS, DELETE_ENDPOINT, DROP_PENDING_OF_ENDPOINT, INSERT_ENDPOINT,
    PURGE_DELIVERIES, ROTATE_SECRET, SELECT_ACCOUNT,
};
use super::rows::{
    all_keys, bind_job, bind_new_file, is_unique_violation, CHECKPOINT_JOB, COMPLETE_JOB,
    INSERT_FOLDER, INSERT_JOB, RELEASE_JOBS, UPDATE_VERSION_ATTRIBUTES,
};
use super::rows::{
    bind_version_row, field_from_row, folder_from_row, job_from_row, key_from_row, listed_from_row,
    to_json, version_from_row, VersionRow, FIELD_COLUMNS, FIRST_ACCOUNT, FOLDER_COLUMNS,
    INSERT_FILE, INSERT_VERSION, JOB_COLUMNS, KEY_COLUMNS, SET_CURRENT_VERSION, VERSION_COLUMNS,
};
use super::{
    Account, ApiKey, Catalog, CommitOutcome, CopyOutcome, CustomField, DeleteOutcome, EditOutcome,
    EditScope, FieldWrite, FileRef, FolderTarget, Job, KeyWithAccount, MoveOutcome, NewCopy,
    NewUpload, RemovedVersion, RenameOutcome, RestoreOutcome, StoredFolder, StoredVersion,
    VersionDelete, VersionEdit,
};
use super::{
    Change, ClaimedDelivery, DeliveryRecord, DeliveryReport, Outbox, OutboxRow, WebhookEndpoint,
};
use super::{IncompleteCaps, Lease, ResumableState, ResumableUpload, Usage, VersionBlob};
use crate::ids;

pub struct SqliteCatalog {
    writer: SqlitePool,
    reader: SqlitePool,
    uploads: writer::Writer,
    lookups: reads::Reads,
    /// Outbox rows the delivery worker holds (id → lease end, Unix ms). Not written to the
    /// database: a crash forgets them, and the rows, still due, are attempted again.
    leases: std::sync::Mutex<std::collections::HashMap<i64, i64>>,
    /// Leases on resumable uploads (id hash → lease), in memory for the same reason: the
    /// requests that hold them live in this process. Taking and giving one back costs no write.
    upload_leases: std::sync::Mutex<std::collections::HashMap<Vec<u8>, Lease>>,
    /// Rate limit counts ((scope, window start) → hits): one instance owns an embedded
    /// catalog, so they need no table, and no write per upload.
    hits: std::sync::Mutex<std::collections::HashMap<(String, i64), u64>>,
}

/// How sqlx's writer starts its transactions (see the module documentation).
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

/// The database file a `sqlite://PATH` (or `sqlite:PATH`) catalog URL names.
pub fn file_of(url: &str) -> Option<PathBuf> {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .map(PathBuf::from)
}

/// The embedded catalog's migrations.
pub fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("./migrations/sqlite")
}

impl SqliteCatalog {
    /// `url` is `sqlite://PATH` (or `sqlite:PATH`); the file and its folder are created.
    pub async fn open(url: &str, fsync: bool) -> anyhow::Result<Self> {
        let path = file_of(url).context("catalog URL must start with sqlite://")?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if fsync {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            })
            .busy_timeout(writer::BUSY_TIMEOUT)
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .with_context(|| format!("opening {}", path.display()))?;
        migrator()
            .run(&writer)
            .await
            .context("migrating the SQLite catalog")?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        Ok(SqliteCatalog {
            writer,
            reader,
            uploads: writer::Writer::start(&path, fsync)?,
            lookups: reads::Reads::new(&path),
            leases: Default::default(),
            upload_leases: Default::default(),
            hits: Default::default(),
        })
    }

    async fn insert_key(
        tx: &mut Transaction<'_, Sqlite>,
        account_id: &str,
        expires_at: Option<i64>,
    ) -> anyhow::Result<ApiKey> {
        let public = ids::api_key("public_");
        let private = ids::api_key("private_");
        Self::insert_given_key(tx, account_id, &public, &private, expires_at).await
    }

    async fn insert_given_key(
        tx: &mut Transaction<'_, Sqlite>,
        account_id: &str,
        public_key: &str,
        private_key: &str,
        expires_at: Option<i64>,
    ) -> anyhow::Result<ApiKey> {
        let key = ApiKey {
            public_key: public_key.to_owned(),
            private_key: private_key.to_owned(),
            account_id: account_id.to_owned(),
            revoked: false,
            expires_at,
            created_at_ms: ids::now_millis(),
        };
        sqlx::query(
            "INSERT INTO api_keys (public_key, private_key, private_key_hash, account_id, \
             expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&key.public_key)
        .bind(&key.private_key)
        .bind(Sha256::digest(key.private_key.as_bytes()).to_vec())
        .bind(account_id)
        .bind(key.expires_at)
        .bind(key.created_at_ms)
        .execute(&mut **tx)
        .await?;
        Ok(key)
    }
}

#[async_trait]
impl Catalog for SqliteCatalog {
    async fn bootstrap(&self) -> anyhow::Result<Option<ApiKey>> {
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
            .fetch_one(&mut *tx)
            .await?;
        if count > 0 {
            return Ok(None);
        }
        let account_id = ids::object_id();
        sqlx::query("INSERT INTO accounts (id, url_id, created_at) VALUES (?, ?, ?)")
            .bind(&account_id)
            .bind("default")
            .bind(ids::now_millis())
            .execute(&mut *tx)
            .await?;
        let key = Self::insert_key(&mut tx, &account_id, None).await?;
        tx.commit().await?;
        Ok(Some(key))
    }

    async fn create_key(
        &self,
        account_id: Option<&str>,
        expires_at: Option<i64>,
    ) -> anyhow::Result<ApiKey> {
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        let account_id: String = match account_id {
            Some(id) => sqlx::query_scalar("SELECT id FROM accounts WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .with_context(|| format!("no account {id}"))?,
            None => sqlx::query_scalar(FIRST_ACCOUNT)
                .fetch_optional(&mut *tx)
                .await?
                .context("no account yet: run `folio serve` once")?,
        };
        let key = Self::insert_key(&mut tx, &account_id, expires_at).await?;
        tx.commit().await?;
        Ok(key)
    }

    async fn create_account(&self, url_id: &str) -> anyhow::Result<Option<(Account, ApiKey)>> {
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        let account = Account {
            id: ids::object_id(),
            url_id: url_id.to_owned(),
            disabled: false,
        };
        let inserted = sqlx::query(crate::store::rows::INSERT_ACCOUNT)
            .bind(&account.id)
            .bind(url_id)
            .bind(ids::now_millis())
            .execute(&mut *tx)
            .await?;
        if inserted.rows_affected() == 0 {
            return Ok(None);
        }
        let key = Self::insert_key(&mut tx, &account.id, None).await?;
        tx.commit().await?;
        Ok(Some((account, key)))
    }

    async fn list_accounts(&self) -> anyhow::Result<Vec<Account>> {
        let rows = sqlx::query(&format!("{SELECT_ACCOUNT} ORDER BY created_at, id"))
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(account_from_row).collect()
    }

    async fn set_account_disabled(&self, url_id: &str, disabled: bool) -> anyhow::Result<bool> {
        let done = sqlx::query(crate::store::rows::SET_ACCOUNT_DISABLED)
            .bind(disabled)
            .bind(url_id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn import_key(&self, public_key: &str, private_key: &str) -> anyhow::Result<ApiKey> {
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        let account_id: String = sqlx::query_scalar(FIRST_ACCOUNT)
            .fetch_optional(&mut *tx)
            .await?
            .context("no account yet: run `folio serve` once")?;
        let key =
            Self::insert_given_key(&mut tx, &account_id, public_key, private_key, None).await?;
        tx.commit().await?;
        Ok(key)
    }

    async fn list_keys(&self) -> anyhow::Result<Vec<ApiKey>> {
        let rows = sqlx::query(&all_keys()).fetch_all(&self.reader).await?;
        rows.iter()
            .map(|r| key_from_row(r).map(|k| k.key))
            .collect()
    }

    async fn account_keys(&self, account_id: &str) -> anyhow::Result<Vec<ApiKey>> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k JOIN accounts a ON a.id = k.account_id \
             WHERE k.account_id = ? ORDER BY k.created_at, k.public_key"
        ))
        .bind(account_id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| key_from_row(r).map(|k| k.key))
            .collect()
    }

    async fn revoke_key(&self, public_key: &str) -> anyhow::Result<bool> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked = 1 WHERE public_key = ? AND revoked = 0")
                .bind(public_key)
                .execute(&self.writer)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn key_by_private(&self, private_key: &str) -> anyhow::Result<Option<KeyWithAccount>> {
        let hash = Sha256::digest(private_key.as_bytes()).to_vec();
        let Some(found) = self.lookups.key_by_private_hash(&hash)? else {
            return Ok(None);
        };
        // The hash matched; compare the key itself too, in constant time, so that a hash
        // collision could never authenticate.
        let same: bool = found
            .key
            .private_key
            .as_bytes()
            .ct_eq(private_key.as_bytes())
            .into();
        Ok(same.then_some(found))
    }

    async fn key_by_public(&self, public_key: &str) -> anyhow::Result<Option<KeyWithAccount>> {
        self.lookups.key_by_public(public_key)
    }

    async fn account_by_id(&self, id: &str) -> anyhow::Result<Option<Account>> {
        let row = sqlx::query(&format!("{SELECT_ACCOUNT} WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn account_by_url_id(&self, url_id: &str) -> anyhow::Result<Option<Account>> {
        let row = sqlx::query(&format!("{SELECT_ACCOUNT} WHERE url_id = ?"))
            .bind(url_id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn burn_token(
        &self,
        account_id: &str,
        token_hash: &[u8; 32],
        expires_at: i64,
    ) -> anyhow::Result<bool> {
        let op = writer::Op::Burn {
            account_id: account_id.to_owned(),
            token_hash: *token_hash,
            expires_at,
        };
        match self.uploads.submit(op).await? {
            writer::Done::Burned(fresh) => Ok(fresh),
            _ => anyhow::bail!("the catalog writer mixed up two jobs"),
        }
    }

    async fn purge_burned_tokens(&self, now: i64) -> anyhow::Result<u64> {
        let done = sqlx::query("DELETE FROM burned_tokens WHERE expires_at < ?")
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }

    async fn commit_upload(&self, up: &NewUpload) -> anyhow::Result<CommitOutcome> {
        match self
            .uploads
            .submit(writer::Op::Commit(Box::new(up.clone())))
            .await?
        {
            writer::Done::Committed(outcome) => Ok(outcome),
            _ => anyhow::bail!("the catalog writer mixed up two jobs"),
        }
    }

    async fn current_by_path(
        &self,
        account_id: &str,
        file_path: &str,
    ) -> anyhow::Result<Option<StoredVersion>> {
        let row = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM files f \
             JOIN file_versions v ON v.version_id = f.current_version_id \
             WHERE f.account_id = ? AND f.file_path = ?"
        ))
        .bind(account_id)
        .bind(file_path)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(version_from_row).transpose()
    }

    async fn create_custom_field(&self, field: &CustomField) -> anyhow::Result<FieldWrite> {
        let inserted = sqlx::query(
            "INSERT INTO custom_metadata_fields \
             (field_id, account_id, name, label, description, schema, deleted, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&field.id)
        .bind(&field.account_id)
        .bind(&field.name)
        .bind(&field.label)
        .bind(&field.description)
        .bind(to_json(&field.schema)?)
        .bind(field.deleted)
        .bind(field.created_at_ms)
        .execute(&self.writer)
        .await;
        match inserted {
            Ok(_) => Ok(FieldWrite::Done(field.clone())),
            Err(e) if is_unique_violation(&e) => {
                let name_taken: Option<String> = sqlx::query_scalar(
                    "SELECT field_id FROM custom_metadata_fields \
                     WHERE account_id = ? AND name = ?",
                )
                .bind(&field.account_id)
                .bind(&field.name)
                .fetch_optional(&self.writer)
                .await?;
                Ok(if name_taken.is_some() {
                    FieldWrite::NameTaken
                } else {
                    FieldWrite::LabelTaken
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn custom_fields(
        &self,
        account_id: &str,
        include_deleted: bool,
    ) -> anyhow::Result<Vec<CustomField>> {
        self.lookups.custom_fields(account_id, include_deleted)
    }

    async fn custom_field(
        &self,
        account_id: &str,
        id: &str,
    ) -> anyhow::Result<Option<CustomField>> {
        let row = sqlx::query(&format!(
            "SELECT {FIELD_COLUMNS} FROM custom_metadata_fields \
             WHERE account_id = ? AND field_id = ?"
        ))
        .bind(account_id)
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(field_from_row).transpose()
    }

    async fn update_custom_field(
        &self,
        account_id: &str,
        id: &str,
        label: Option<&str>,
        schema: Option<&serde_json::Value>,
    ) -> anyhow::Result<FieldWrite> {
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        let row = sqlx::query(&format!(
            "SELECT {FIELD_COLUMNS} FROM custom_metadata_fields \
             WHERE account_id = ? AND field_id = ?"
        ))
        .bind(account_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(FieldWrite::NotFound);
        };
        let mut field = field_from_row(&row)?;
        if field.deleted {
            return Ok(FieldWrite::Deleted);
        }
        if let Some(label) = label {
            field.label = label.to_owned();
        }
        if let Some(schema) = schema {
            field.schema = schema.clone();
        }
        let updated = sqlx::query(
            "UPDATE custom_metadata_fields SET label = ?, schema = ? \
             WHERE account_id = ? AND field_id = ?",
        )
        .bind(&field.label)
        .bind(to_json(&field.schema)?)
        .bind(account_id)
        .bind(id)
        .execute(&mut *tx)
        .await;
        match updated {
            Ok(_) => {
                tx.commit().await?;
                Ok(FieldWrite::Done(field))
            }
            Err(e) if is_unique_violation(&e) => Ok(FieldWrite::LabelTaken),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete_custom_field(&self, account_id: &str, id: &str) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE custom_metadata_fields SET deleted = 1 \
             WHERE account_id = ? AND field_id = ? AND deleted = 0",
        )
        .bind(account_id)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_ai_tags(
        &self,
        version_id: &str,
        ai_tags: &serde_json::Value,
    ) -> anyhow::Result<bool> {
        let stored = (!ai_tags.is_null()).then(|| to_json(ai_tags)).transpose()?;
        let done = sqlx::query("UPDATE file_versions SET ai_tags = ? WHERE version_id = ?")
            .bind(stored)
            .bind(version_id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_files(
        &self,
        account_id: &str,
        query: &super::listing::ListQuery,
    ) -> anyhow::Result<Vec<super::ListedItem>> {
        use super::listing::{compile_with, positive_tags, Dialect, Hints, RARE_TAG_ROWS};
        let tags = positive_tags(query);
        let mut hints = Hints::default();
        if !tags.is_empty() {
            // A bounded count on the (account, tag) index: at most RARE_TAG_ROWS rows read.
            let placeholders = vec!["?"; tags.len()].join(", ");
            let text = format!(
                "SELECT count(*) FROM (SELECT 1 FROM version_tags \
                 WHERE account_id = ? AND tag IN ({placeholders}) LIMIT ?)"
            );
            let mut count = sqlx::query_scalar::<_, i64>(&text).bind(account_id);
            for tag in &tags {
                count = count.bind(tag.as_str());
            }
            let rows = count.bind(RARE_TAG_ROWS).fetch_one(&self.reader).await?;
            hints.rare_tags = rows < RARE_TAG_ROWS;
        }
        let sql = compile_with(query, account_id, Dialect::Sqlite, hints);
        let mut statement = sqlx::query(&sql.text);
        for bind in &sql.binds {
            statement = match bind {
                super::listing::Bind::Text(text) => statement.bind(text.as_str()),
                super::listing::Bind::Int(n) => statement.bind(*n),
                super::listing::Bind::Real(x) => statement.bind(*x),
            };
        }
        let rows = statement.fetch_all(&self.reader).await?;
        rows.iter().map(listed_from_row).collect()
    }

    async fn create_folder(&self, account_id: &str, target: &FolderTarget) -> anyhow::Result<()> {
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        let now = ids::now_millis();
        insert_folders(&mut tx, account_id, &target.ancestors, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn files_under(
        &self,
        account_id: &str,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> anyhow::Result<Vec<FileRef>> {
        // BINARY collation: text compares bytewise, so the prefix is the range [p, succ(p)).
        let upper = super::listing::successor(prefix);
        let rows = sqlx::query(
            "SELECT file_id, file_path FROM files \
             WHERE account_id = ? AND file_path >= ? AND (? IS NULL OR file_path < ?) \
             AND (? IS NULL OR file_path > ?) \
             ORDER BY file_path LIMIT ?",
        )
        .bind(account_id)
        .bind(prefix)
        .bind(&upper)
        .bind(&upper)
        .bind(after)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FileRef {
                    file_id: r.try_get("file_id")?,
                    file_path: r.try_get("file_path")?,
                })
            })
            .collect()
    }

    async fn folders_under(&self, account_id: &str, prefix: &str) -> anyhow::Result<Vec<String>> {
        let upper = super::listing::successor(prefix);
        Ok(sqlx::query_scalar(
            "SELECT path FROM folders \
             WHERE account_id = ? AND path >= ? AND (? IS NULL OR path < ?) ORDER BY path",
        )
        .bind(account_id)
        .bind(prefix)
        .bind(&upper)
        .bind(&upper)
        .fetch_all(&self.reader)
        .await?)
    }

    async fn delete_empty_folders(&self, account_id: &str, prefix: &str) -> anyhow::Result<u64> {
        let upper = super::listing::successor(prefix);
        // A folder path ends with `/`; the paths under it are [path, path minus `/` plus `0`).
        let done = sqlx::query(
            "DELETE FROM folders \
             WHERE account_id = ? AND path >= ? AND (? IS NULL OR path < ?) \
             AND NOT EXISTS (SELECT 1 FROM files f WHERE f.account_id = folders.account_id \
                 AND f.file_path >= folders.path \
                 AND f.file_path < substr(folders.path, 1, length(folders.path) - 1) || '0')",
        )
        .bind(account_id)
        .bind(prefix)
        .bind(&upper)
        .bind(&upper)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }

    async fn insert_jobs(&self, jobs: &[Job]) -> anyhow::Result<()> {
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        for job in jobs {
            let params = to_json(&job.params)?;
            bind_job!(sqlx::query(INSERT_JOB), job, params.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn job(&self, account_id: &str, job_id: &str) -> anyhow::Result<Option<Job>> {
        let row = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE account_id = ? AND job_id = ?"
        ))
        .bind(account_id)
        .bind(job_id)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    async fn claim_job(
        &self,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> anyhow::Result<Option<Job>> {
        // One statement on the single writer: no other claim can interleave.
        let row = sqlx::query(&format!(
            "UPDATE jobs SET lease_owner = ?, lease_until = ?, attempts = attempts + 1, \
             updated_at = ? \
             WHERE job_id = (SELECT job_id FROM jobs WHERE status = 'Pending' \
                 AND (lease_until IS NULL OR lease_until < ?) \
                 AND (depends_on IS NULL OR NOT EXISTS (SELECT 1 FROM jobs d \
                     WHERE d.job_id = jobs.depends_on AND d.status = 'Pending')) \
                 ORDER BY created_at, job_id LIMIT 1) \
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(owner)
        .bind(now_ms.saturating_add(lease_ms))
        .bind(now_ms)
        .bind(now_ms)
        .fetch_optional(&self.writer)
        .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    async fn checkpoint_job(
        &self,
        job_id: &str,
        owner: &str,
        cursor: Option<&str>,
        lease_until_ms: i64,
    ) -> anyhow::Result<bool> {
        let done = sqlx::query(CHECKPOINT_JOB)
            .bind(cursor)
            .bind(lease_until_ms)
            .bind(ids::now_millis())
            .bind(job_id)
            .bind(owner)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn complete_job(&self, job_id: &str, owner: &str, now_ms: i64) -> anyhow::Result<bool> {
        let done = sqlx::query(COMPLETE_JOB)
            .bind(now_ms)
            .bind(now_ms)
            .bind(job_id)
            .bind(owner)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_jobs(&self, owner: &str) -> anyhow::Result<u64> {
        let done = sqlx::query(RELEASE_JOBS)
            .bind(owner)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }

    async fn blob_is_referenced(&self, blob_key: &str) -> anyhow::Result<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM file_versions WHERE blob_key = ?")
                .bind(blob_key)
                .fetch_optional(&self.reader)
                .await?;
        Ok(found.is_some())
    }

    async fn add_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> anyhow::Result<()> {
        bind_endpoint!(sqlx::query(INSERT_ENDPOINT), endpoint)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn webhook_endpoints(&self) -> anyhow::Result<Vec<WebhookEndpoint>> {
        let rows = sqlx::query(&all_endpoints())
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(endpoint_from_row).collect()
    }

    async fn remove_webhook_endpoint(&self, id: &str) -> anyhow::Result<bool> {
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        sqlx::query(DROP_PENDING_OF_ENDPOINT)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query(DELETE_ENDPOINT)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn rotate_webhook_secret(
        &self,
        id: &str,
        secret: &str,
        previous_until_ms: i64,
    ) -> anyhow::Result<bool> {
        let done = sqlx::query(ROTATE_SECRET)
            .bind(secret)
            .bind(previous_until_ms)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn sync_config_endpoints(&self, endpoints: &[WebhookEndpoint]) -> anyhow::Result<()> {
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        let known: Vec<String> = sqlx::query_scalar(CONFIG_ENDPOINT_IDS)
            .fetch_all(&mut *tx)
            .await?;
        for id in known
            .iter()
            .filter(|id| !endpoints.iter().any(|e| &e.id == *id))
        {
            sqlx::query(DROP_PENDING_OF_ENDPOINT)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(DELETE_ENDPOINT)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        for endpoint in endpoints {
            bind_endpoint!(sqlx::query(&upsert_endpoint()), endpoint)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn enqueue(&self, rows: &[OutboxRow]) -> anyhow::Result<()> {
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        for row in rows {
            bind_outbox_row!(row).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> anyhow::Result<Vec<ClaimedDelivery>> {
        // Due rows are read, not written: an embedded catalog belongs to one process, so its
        // leases live in that process ([`Self::leases`]), and a claim costs the writer nothing.
        let held = {
            let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
            leases.retain(|_, until| *until > now_ms);
            leases.len()
        };
        let want = i64::from(limit).saturating_add(i64::try_from(held).unwrap_or(i64::MAX));
        let rows = sqlx::query(&select_due())
            .bind(now_ms)
            .bind(want)
            .fetch_all(&self.reader)
            .await?;
        let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        let mut claimed = Vec::new();
        for row in &rows {
            let due = claimed_from_row(row)?;
            if claimed.len() < limit as usize && !leases.contains_key(&due.id) {
                leases.insert(due.id, now_ms.saturating_add(lease_ms));
                claimed.push(due);
            }
        }
        claimed.sort_by_key(|c| c.id);
        Ok(claimed)
    }

    async fn finish_deliveries(&self, reports: &[DeliveryReport]) -> anyhow::Result<()> {
        match self
            .uploads
            .submit(writer::Op::Finish(reports.to_vec()))
            .await?
        {
            writer::Done::Finished => {}
            _ => anyhow::bail!("the catalog writer mixed up two jobs"),
        }
        // Only now that the outcomes are committed may the rows be claimed again.
        let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        for report in reports {
            leases.remove(&report.id);
        }
        Ok(())
    }

    async fn deliveries(
        &self,
        failed_only: bool,
        limit: u32,
    ) -> anyhow::Result<Vec<DeliveryRecord>> {
        let rows = sqlx::query(&delivery_log(failed_only))
            .bind(limit)
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(delivery_record_from_row).collect()
    }

    async fn purge_deliveries(&self, before_ms: i64) -> anyhow::Result<u64> {
        let done = sqlx::query(PURGE_DELIVERIES)
            .bind(before_ms)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }

    async fn hit(&self, scope: &str, window_start: i64) -> anyhow::Result<u64> {
        let mut hits = self.hits.lock().unwrap_or_else(|e| e.into_inner());
        // Windows end in order: an older one is over once a newer one is counted.
        hits.retain(|(_, start), _| *start >= window_start);
        let count = hits.entry((scope.to_owned(), window_start)).or_default();
        *count += 1;
        Ok(*count)
    }

    async fn purge_hits(&self, before: i64) -> anyhow::Result<u64> {
        let mut hits = self.hits.lock().unwrap_or_else(|e| e.into_inner());
        let had = hits.len();
        hits.retain(|(_, start), _| *start >= before);
        Ok((had - hits.len()) as u64)
    }

    async fn usage(&self, account_id: &str) -> anyhow::Result<Usage> {
        let row = sqlx::query(crate::store::rows::ACCOUNT_USAGE)
            .bind(account_id)
            .fetch_one(&self.reader)
            .await?;
        crate::store::rows::usage_from_row(&row)
    }

    async fn versions_after(&self, after: &str, limit: u32) -> anyhow::Result<Vec<VersionBlob>> {
        let rows = sqlx::query(crate::store::rows::VERSIONS_AFTER)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(crate::store::rows::version_blob_from_row)
            .collect()
    }

    async fn file_sequences_after(
        &self,
        after: &str,
        limit: u32,
    ) -> anyhow::Result<Vec<super::FileSequence>> {
        let rows = sqlx::query(crate::store::rows::FILE_SEQUENCES_AFTER)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(crate::store::rows::file_sequence_from_row)
            .collect()
    }

    async fn raise_last_version_number(&self, file_id: &str, to: i64) -> anyhow::Result<bool> {
        let done = sqlx::query(crate::store::rows::RAISE_LAST_VERSION_NUMBER)
            .bind(to)
            .bind(file_id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn create_console_session(&self, session: &super::ConsoleSession) -> anyhow::Result<()> {
        crate::store::rows::bind_console_session!(session)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn console_session(
        &self,
        id_hash: &[u8],
    ) -> anyhow::Result<Option<super::ConsoleSession>> {
        let row = sqlx::query(&crate::store::rows::select_console_session())
            .bind(id_hash)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref()
            .map(crate::store::rows::console_session_from_row)
            .transpose()
    }

    async fn take_console_session(
        &self,
        id_hash: &[u8],
    ) -> anyhow::Result<Option<super::ConsoleSession>> {
        let row = sqlx::query(&crate::store::rows::take_console_session())
            .bind(id_hash)
            .fetch_optional(&self.writer)
            .await?;
        row.as_ref()
            .map(crate::store::rows::console_session_from_row)
            .transpose()
    }

    async fn purge_console_sessions(&self, now: i64) -> anyhow::Result<u64> {
        let done = sqlx::query(crate::store::rows::PURGE_CONSOLE_SESSIONS)
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }

    async fn pending_deliveries(&self) -> anyhow::Result<u64> {
        let count: i64 = sqlx::query_scalar(crate::store::rows::COUNT_PENDING_DELIVERIES)
            .fetch_one(&self.reader)
            .await?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    async fn create_resumable(
        &self,
        upload: &ResumableUpload,
        caps: IncompleteCaps,
    ) -> anyhow::Result<bool> {
        let done = resumable::bind_resumable!(sqlx::query(resumable::INSERT), upload, caps)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn resumable(&self, id_hash: &[u8]) -> anyhow::Result<Option<ResumableUpload>> {
        self.lookups.resumable(id_hash)
    }

    async fn resumable_by_ledger(
        &self,
        ledger_key: &[u8],
    ) -> anyhow::Result<Option<ResumableUpload>> {
        let row = sqlx::query(&resumable::by_ledger_key())
            .bind(ledger_key)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(resumable::from_row).transpose()
    }

    async fn lease_resumable(
        &self,
        id_hash: &[u8],
        lease: &Lease,
        now_ms: i64,
    ) -> anyhow::Result<bool> {
        {
            let mut leases = self.upload_leases.lock().unwrap_or_else(|e| e.into_inner());
            leases.retain(|_, held| held.until_ms >= now_ms);
            if leases.contains_key(id_hash) {
                return Ok(false);
            }
            leases.insert(id_hash.to_vec(), lease.clone());
        }
        // Only a receiving upload can be leased; it cannot end while the lease is held.
        let receiving = self.lookups.resumable(id_hash).map(|upload| {
            upload.is_some_and(|upload| upload.state == resumable::ResumableState::Receiving)
        });
        if !matches!(receiving, Ok(true)) {
            self.release_resumable(id_hash, lease).await?;
        }
        receiving
    }

    async fn advance_resumable(
        &self,
        id_hash: &[u8],
        lease: &Lease,
        offset: u64,
        storage: &str,
    ) -> anyhow::Result<bool> {
        {
            let mut leases = self.upload_leases.lock().unwrap_or_else(|e| e.into_inner());
            match leases.get_mut(id_hash) {
                Some(held) if held.token == lease.token => held.until_ms = lease.until_ms,
                _ => return Ok(false),
            }
        }
        let op = writer::Op::Advance {
            id_hash: id_hash.to_vec(),
            offset: i64::try_from(offset)?,
            storage: storage.to_owned(),
        };
        match self.uploads.submit(op).await? {
            writer::Done::Advanced(advanced) => Ok(advanced),
            _ => anyhow::bail!("the catalog writer mixed up two jobs"),
        }
    }

    async fn release_resumable(&self, id_hash: &[u8], lease: &Lease) -> anyhow::Result<()> {
        let mut leases = self.upload_leases.lock().unwrap_or_else(|e| e.into_inner());
        if leases
            .get(id_hash)
            .is_some_and(|held| held.token == lease.token)
        {
            leases.remove(id_hash);
        }
        Ok(())
    }

    async fn end_resumable(
        &self,
        id_hash: &[u8],
        state: ResumableState,
        result: (u16, &str),
        offset: u64,
    ) -> anyhow::Result<()> {
        sqlx::query(resumable::END)
            .bind(id_hash)
            .bind(state.as_str())
            .bind(i64::from(result.0))
            .bind(result.1)
            .bind(i64::try_from(offset)?)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn delete_resumable(&self, id_hash: &[u8]) -> anyhow::Result<bool> {
        let done = sqlx::query(resumable::DELETE)
            .bind(id_hash)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn expired_resumables(
        &self,
        now: i64,
        limit: u32,
    ) -> anyhow::Result<Vec<ResumableUpload>> {
        let rows = sqlx::query(&resumable::expired())
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(resumable::from_row).collect()
    }

    async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn version_exists(&self, version_id: &str) -> anyhow::Result<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM file_versions WHERE version_id = ?")
                .bind(version_id)
                .fetch_optional(&self.reader)
                .await?;
        Ok(found.is_some())
    }

    async fn file_by_id(
        &self,
        account_id: &str,
        file_id: &str,
    ) -> anyhow::Result<Option<StoredVersion>> {
        let row = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM files f \
             JOIN file_versions v ON v.version_id = f.current_version_id \
             WHERE f.account_id = ? AND f.file_id = ?"
        ))
        .bind(account_id)
        .bind(file_id)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(version_from_row).transpose()
    }

    async fn file_versions(
        &self,
        account_id: &str,
        file_id: &str,
    ) -> anyhow::Result<Option<Vec<StoredVersion>>> {
        let rows = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM files f \
             JOIN file_versions v ON v.file_id = f.file_id \
             WHERE f.account_id = ? AND f.file_id = ? ORDER BY v.version_number DESC"
        ))
        .bind(account_id)
        .bind(file_id)
        .fetch_all(&self.reader)
        .await?;
        // A file always has its current version, so no rows means no file.
        if rows.is_empty() {
            return Ok(None);
        }
        rows.iter()
            .map(version_from_row)
            .collect::<anyhow::Result<_>>()
            .map(Some)
    }

    async fn version_by_id(
        &self,
        account_id: &str,
        file_id: &str,
        version_id: &str,
    ) -> anyhow::Result<Option<StoredVersion>> {
        let row = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM files f \
             JOIN file_versions v ON v.file_id = f.file_id \
             WHERE f.account_id = ? AND f.file_id = ? AND v.version_id = ?"
        ))
        .bind(account_id)
        .bind(file_id)
        .bind(version_id)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(version_from_row).transpose()
    }

    async fn folder_by_path(
        &self,
        account_id: &str,
        path: &str,
    ) -> anyhow::Result<Option<StoredFolder>> {
        let row = sqlx::query(&format!(
            "SELECT {FOLDER_COLUMNS} FROM folders WHERE account_id = ? AND path = ?"
        ))
        .bind(account_id)
        .bind(path)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(folder_from_row).transpose()
    }

    async fn edit_versions(
        &self,
        account_id: &str,
        file_ids: &[String],
        scope: EditScope,
        edit: VersionEdit<'_>,
        outbox: &Outbox,
    ) -> anyhow::Result<EditOutcome> {
        let ids = super::unique_ids(file_ids);
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        let missing = missing_files(&mut tx, account_id, &ids).await?;
        if !missing.is_empty() {
            return Ok(EditOutcome::Missing(missing));
        }
        let now = ids::now_millis();
        let join = match scope {
            EditScope::Current => "v.version_id = f.current_version_id",
            EditScope::AllVersions => "v.file_id = f.file_id",
        };
        for id in &ids {
            let rows = sqlx::query(&format!(
                "SELECT {VERSION_COLUMNS} FROM files f JOIN file_versions v ON {join} \
                 WHERE f.file_id = ?"
            ))
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            for row in &rows {
                let mut version = version_from_row(row)?;
                if let Err(errors) = edit(&mut version) {
                    return Ok(EditOutcome::Invalid(errors));
                }
                sqlx::query(UPDATE_VERSION_ATTRIBUTES)
                    .bind(version.tags.as_ref().map(to_json).transpose()?)
                    .bind(version.ai_tags.as_ref().map(to_json).transpose()?)
                    .bind(to_json(&version.custom_metadata)?)
                    .bind(&version.custom_coordinates)
                    .bind(&version.description)
                    .bind(version.is_published)
                    .bind(now)
                    .bind(&version.version_id)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("UPDATE files SET updated_at = ? WHERE file_id = ?")
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let mut current = Vec::with_capacity(ids.len());
        for id in &ids {
            let version = current_in(&mut tx, id).await?;
            write_outbox(&mut tx, outbox, Change::Updated(&version)).await?;
            current.push(version);
        }
        tx.commit().await?;
        Ok(EditOutcome::Done(current))
    }

    async fn delete_files(
        &self,
        account_id: &str,
        file_ids: &[String],
        outbox: &Outbox,
    ) -> anyhow::Result<DeleteOutcome> {
        let ids = super::unique_ids(file_ids);
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        let missing = missing_files(&mut tx, account_id, &ids).await?;
        if !missing.is_empty() {
            return Ok(DeleteOutcome::Missing(missing));
        }
        let mut removed = Vec::new();
        for id in &ids {
            let rows =
                sqlx::query("SELECT version_id, blob_key FROM file_versions WHERE file_id = ?")
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await?;
            for row in rows {
                removed.push(RemovedVersion {
                    version_id: row.try_get("version_id")?,
                    blob_key: row.try_get("blob_key")?,
                });
            }
            sqlx::query("DELETE FROM file_versions WHERE file_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM files WHERE file_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            write_outbox(&mut tx, outbox, Change::Deleted { file_id: id }).await?;
        }
        tx.commit().await?;
        Ok(DeleteOutcome::Deleted(removed))
    }

    async fn delete_version(
        &self,
        account_id: &str,
        file_id: &str,
        version_id: &str,
        outbox: &Outbox,
    ) -> anyhow::Result<VersionDelete> {
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        let current: Option<String> = sqlx::query_scalar(
            "SELECT current_version_id FROM files WHERE account_id = ? AND file_id = ?",
        )
        .bind(account_id)
        .bind(file_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(current) = current else {
            return Ok(VersionDelete::NoFile);
        };
        let blob_key: Option<String> = sqlx::query_scalar(
            "SELECT blob_key FROM file_versions WHERE file_id = ? AND version_id = ?",
        )
        .bind(file_id)
        .bind(version_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(blob_key) = blob_key else {
            return Ok(VersionDelete::NoVersion);
        };
        if current == version_id {
            return Ok(VersionDelete::Current);
        }
        sqlx::query("DELETE FROM file_versions WHERE version_id = ?")
            .bind(version_id)
            .execute(&mut *tx)
            .await?;
        let change = Change::VersionDeleted {
            file_id,
            version_id,
        };
        write_outbox(&mut tx, outbox, change).await?;
        tx.commit().await?;
        Ok(VersionDelete::Deleted(RemovedVersion {
            version_id: version_id.to_owned(),
            blob_key,
        }))
    }

    async fn restore_version(
        &self,
        account_id: &str,
        file_id: &str,
        version_id: &str,
        outbox: &Outbox,
    ) -> anyhow::Result<RestoreOutcome> {
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        let current: Option<String> = sqlx::query_scalar(
            "SELECT current_version_id FROM files WHERE account_id = ? AND file_id = ?",
        )
        .bind(account_id)
        .bind(file_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(current) = current else {
            return Ok(RestoreOutcome::NoFile);
        };
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM file_versions WHERE file_id = ? AND version_id = ?")
                .bind(file_id)
                .bind(version_id)
                .fetch_optional(&mut *tx)
                .await?;
        if found.is_none() {
            return Ok(RestoreOutcome::NoVersion);
        }
        if current != version_id {
            sqlx::query(
                "UPDATE files SET current_version_id = ?, updated_at = ? WHERE file_id = ?",
            )
            .bind(version_id)
            .bind(ids::now_millis())
            .bind(file_id)
            .execute(&mut *tx)
            .await?;
        }
        let restored = current_in(&mut tx, file_id).await?;
        if current != version_id {
            write_outbox(&mut tx, outbox, Change::Updated(&restored)).await?;
        }
        tx.commit().await?;
        Ok(RestoreOutcome::Restored(Box::new(restored)))
    }

    async fn insert_copy(&self, copy: &NewCopy, outbox: &Outbox) -> anyhow::Result<CopyOutcome> {
        let Some(last) = copy.versions.last() else {
            anyhow::bail!("a copy without versions");
        };
        let now = ids::now_millis();
        let n = i64::try_from(copy.versions.len())?;
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        insert_folders(&mut tx, &copy.account_id, &copy.folder.ancestors, now).await?;
        let path = format!("{}{}", copy.folder.path, copy.name);
        let existing = sqlx::query(
            "SELECT file_id, last_version_number FROM files WHERE account_id = ? AND file_path = ?",
        )
        .bind(&copy.account_id)
        .bind(&path)
        .fetch_optional(&mut *tx)
        .await?;
        let appended = existing.is_some();
        let (file_id, numbers) = match existing {
            Some(row) => {
                let file_id: String = row.try_get("file_id")?;
                let version_count: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM file_versions WHERE file_id = ?")
                        .bind(&file_id)
                        .fetch_one(&mut *tx)
                        .await?;
                let target = commit::AppendTarget {
                    file_id,
                    last_version_number: row.try_get("last_version_number")?,
                    version_count,
                };
                let Some((numbers, update)) =
                    commit::append(&target, n, &last.version_id, copy.max_versions, now)
                else {
                    return Ok(CopyOutcome::TooManyVersions);
                };
                set_current_version(&mut tx, &update).await?;
                (target.file_id, numbers)
            }
            None => {
                let Some(file) = commit::copied_file(copy, now)? else {
                    return Ok(CopyOutcome::TooManyVersions);
                };
                bind_new_file!(
                    sqlx::query(INSERT_FILE),
                    &copy.account_id,
                    &copy.folder.path,
                    &file
                )
                .execute(&mut *tx)
                .await?;
                (file.file_id, 1..)
            }
        };
        for (number, copied) in numbers.zip(&copy.versions) {
            let row = VersionRow::copy(copied, &file_id, number, now)?;
            bind_version_row!(sqlx::query(INSERT_VERSION), &row)
                .execute(&mut *tx)
                .await?;
        }
        let current = current_in(&mut tx, &file_id).await?;
        let change = if appended {
            Change::VersionCreated(&current)
        } else {
            Change::Created(&current)
        };
        write_outbox(&mut tx, outbox, change).await?;
        tx.commit().await?;
        Ok(CopyOutcome::Copied(Box::new(current)))
    }

    async fn move_file(
        &self,
        account_id: &str,
        source_path: &str,
        folder: &FolderTarget,
        max_versions: u32,
        outbox: &Outbox,
    ) -> anyhow::Result<MoveOutcome> {
        let now = ids::now_millis();
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        let source = sqlx::query(
            "SELECT file_id, current_version_id, name FROM files \
             WHERE account_id = ? AND file_path = ?",
        )
        .bind(account_id)
        .bind(source_path)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(source) = source else {
            return Ok(MoveOutcome::NotFound);
        };
        let source_id: String = source.try_get("file_id")?;
        let source_current: String = source.try_get("current_version_id")?;
        let name: String = source.try_get("name")?;
        let dest_path = format!("{}{}", folder.path, name);
        if dest_path == source_path {
            return Ok(MoveOutcome::Moved);
        }
        insert_folders(&mut tx, account_id, &folder.ancestors, now).await?;
        let dest = sqlx::query(
            "SELECT file_id, last_version_number FROM files WHERE account_id = ? AND file_path = ?",
        )
        .bind(account_id)
        .bind(&dest_path)
        .fetch_optional(&mut *tx)
        .await?;
        match dest {
            None => {
                sqlx::query(
                    "UPDATE files SET file_path = ?, folder_path = ?, updated_at = ? \
                     WHERE file_id = ?",
                )
                .bind(&dest_path)
                .bind(&folder.path)
                .bind(now)
                .bind(&source_id)
                .execute(&mut *tx)
                .await?;
                let moved = current_in(&mut tx, &source_id).await?;
                write_outbox(&mut tx, outbox, Change::Updated(&moved)).await?;
            }
            Some(dest) => {
                let dest_id: String = dest.try_get("file_id")?;
                let moving: Vec<String> = sqlx::query_scalar(
                    "SELECT version_id FROM file_versions WHERE file_id = ? \
                     ORDER BY version_id = ?, version_number",
                )
                .bind(&source_id)
                .bind(&source_current)
                .fetch_all(&mut *tx)
                .await?;
                let version_count: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM file_versions WHERE file_id = ?")
                        .bind(&dest_id)
                        .fetch_one(&mut *tx)
                        .await?;
                let target = commit::AppendTarget {
                    file_id: dest_id,
                    last_version_number: dest.try_get("last_version_number")?,
                    version_count,
                };
                let n = i64::try_from(moving.len())?;
                let Some((numbers, update)) =
                    commit::append(&target, n, &source_current, max_versions, now)
                else {
                    return Ok(MoveOutcome::TooManyVersions);
                };
                for (number, version_id) in numbers.zip(&moving) {
                    sqlx::query(
                        "UPDATE file_versions SET file_id = ?, version_number = ? \
                         WHERE version_id = ?",
                    )
                    .bind(&target.file_id)
                    .bind(number)
                    .bind(version_id)
                    .execute(&mut *tx)
                    .await?;
                }
                set_current_version(&mut tx, &update).await?;
                sqlx::query("DELETE FROM files WHERE file_id = ?")
                    .bind(&source_id)
                    .execute(&mut *tx)
                    .await?;
                // The moved file is gone; its versions are new versions of the one there.
                let file_id = &source_id;
                write_outbox(&mut tx, outbox, Change::Deleted { file_id }).await?;
                let appended = current_in(&mut tx, &target.file_id).await?;
                write_outbox(&mut tx, outbox, Change::VersionCreated(&appended)).await?;
            }
        }
        tx.commit().await?;
        Ok(MoveOutcome::Moved)
    }

    async fn rename_file(
        &self,
        account_id: &str,
        file_path: &str,
        new_name: &str,
        outbox: &Outbox,
    ) -> anyhow::Result<RenameOutcome> {
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        let source = sqlx::query(
            "SELECT file_id, folder_path FROM files WHERE account_id = ? AND file_path = ?",
        )
        .bind(account_id)
        .bind(file_path)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(source) = source else {
            return Ok(RenameOutcome::NotFound);
        };
        let file_id: String = source.try_get("file_id")?;
        let folder_path: String = source.try_get("folder_path")?;
        let new_path = format!("{folder_path}{new_name}");
        if new_path != file_path {
            let renamed = sqlx::query(
                "UPDATE files SET name = ?, file_path = ?, updated_at = ? WHERE file_id = ?",
            )
            .bind(new_name)
            .bind(&new_path)
            .bind(ids::now_millis())
            .bind(&file_id)
            .execute(&mut *tx)
            .await;
            match renamed {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => return Ok(RenameOutcome::Exists),
                Err(e) => return Err(e.into()),
            }
        }
        let current = current_in(&mut tx, &file_id).await?;
        if new_path != file_path {
            write_outbox(&mut tx, outbox, Change::Updated(&current)).await?;
        }
        tx.commit().await?;
        Ok(RenameOutcome::Renamed(Box::new(current)))
    }
}

/// Writes the outbox rows of `change` in the change's transaction.
async fn write_outbox(
    tx: &mut Transaction<'_, Sqlite>,
    outbox: &Outbox,
    change: Change<'_>,
) -> anyhow::Result<()> {
    for row in outbox.rows(&change) {
        bind_outbox_row!(&row).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Which of `ids` name no file of the account.
async fn missing_files(
    tx: &mut Transaction<'_, Sqlite>,
    account_id: &str,
    ids: &[String],
) -> anyhow::Result<Vec<String>> {
    let mut missing = Vec::new();
    for id in ids {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM files WHERE account_id = ? AND file_id = ?")
                .bind(account_id)
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?;
        if found.is_none() {
            missing.push(id.clone());
        }
    }
    Ok(missing)
}

/// The current version of a file that exists, read inside the transaction.
async fn current_in(
    tx: &mut Transaction<'_, Sqlite>,
    file_id: &str,
) -> anyhow::Result<StoredVersion> {
    let row = sqlx::query(&format!(
        "SELECT {VERSION_COLUMNS} FROM files f \
         JOIN file_versions v ON v.version_id = f.current_version_id WHERE f.file_id = ?"
    ))
    .bind(file_id)
    .fetch_one(&mut **tx)
    .await?;
    version_from_row(&row)
}

/// Points a file at its newest version ([`commit::FileUpdate`]).
async fn set_current_version(
    tx: &mut Transaction<'_, Sqlite>,
    update: &commit::FileUpdate,
) -> anyhow::Result<()> {
    sqlx::query(SET_CURRENT_VERSION)
        .bind(&update.current_version_id)
        .bind(update.last_version_number)
        .bind(update.updated_at_ms)
        .bind(&update.file_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Creates the folders of a destination that do not exist yet.
async fn insert_folders(
    tx: &mut Transaction<'_, Sqlite>,
    account_id: &str,
    ancestors: &[String],
    now: i64,
) -> anyhow::Result<()> {
    for folder in ancestors {
        sqlx::query(INSERT_FOLDER)
            .bind(account_id)
            .bind(folder)
            .bind(ids::object_id())
            .bind(now)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
