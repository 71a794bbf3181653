//! The shared catalog of a scale-out deployment: PostgreSQL, used by any number of stateless
//! instances at once.
//!
//! What SQLite gets from its single writer, PostgreSQL gets from row locks and unique keys:
//!
//! * overwrites of one path lock its `files` row (`SELECT … FOR UPDATE`), so concurrent commits
//!   from any instance number versions one after the other, without gaps or duplicates;
//! * two commits creating the same path race on the unique `(account_id, file_path)`: the loser's
//!   `INSERT … ON CONFLICT DO NOTHING` waits for the winner, inserts nothing, and the loser then
//!   finds (and locks) the winner's row and overwrites it like any other;
//! * burning a token is one `INSERT … ON CONFLICT DO NOTHING` on the ledger's primary key;
//! * bootstrap takes a table lock, so instances started together create one default account.
//!
//! Queries are runtime `sqlx::query` (the compile-time macros check against one database only);
//! the shared suite in `store::suite` holds both backends to the same behaviour.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Row, Transaction};
use subtle::ConstantTimeEq;

use super::commit;
use super::resumable;
use super::rows::{
    account_from_row, all_endpoints, bind_endpoint, bind_outbox_row, claimed_from_row,
    delivery_log, delivery_record_from_row, endpoint_from_row, finish_values, lease_due,
    upsert_endpoint, CONFIG_ENDPOINT_IDS, DELETE_ENDPOINT, DISABLE_ENDPOINT,
    DROP_PENDING_OF_ENDPOINT, FINISH_DELIVERY, INSERT_ENDPOINT, PURGE_DELIVERIES, ROTATE_SECRET,
    SELECT_ACCOUNT,
};
use super::rows::{
    all_keys, bind_job, bind_new_file, is_unique_violation, CHECKPOINT_JOB, COMPLETE_JOB,
    INSERT_FOLDER, INSERT_JOB, RELEASE_JOBS, UPDATE_VERSION_ATTRIBUTES,
};
use super::rows::{
    bind_version_row, current_for_overwrite_from_row, field_from_row, file_at_path_from_row,
    folder_from_row, job_from_row, key_from_row, listed_from_row, to_json, version_from_row,
    VersionRow, CURRENT_FOR_OVERWRITE, FIELD_COLUMNS, FILE_AT_PATH, FIRST_ACCOUNT, FOLDER_COLUMNS,
    INSERT_FILE, INSERT_VERSION, JOB_COLUMNS, KEY_COLUMNS, SET_CURRENT_VERSION, VERSION_COLUMNS,
};
use super::{
    Account, ApiKey, Catalog, CommitOutcome, CopyOutcome, CustomField, DeleteOutcome, EditOutcome,
    EditScope, FieldWrite, FileRef, FolderTarget, Job, KeyWithAccount, MoveOutcome, NewCopy,
    NewUpload, RemovedVersion, RenameOutcome, RestoreOutcome, StoredFolder, StoredVersion,
    VersionDelete, VersionEdit,
};
use super::{
    Change, ClaimedDelivery, DeliveryOutcome, DeliveryRecord, DeliveryReport, Outbox, OutboxRow,
    WebhookEndpoint,
};
use super::{IncompleteCaps, Lease, ResumableState, ResumableUpload, Usage, VersionBlob};
use crate::config::PostgresConfig;
use crate::ids;

/// The embedded migrations of this backend (`migrations/postgres`). Migrations this binary
/// does not know (applied by a newer version running side by side) are left alone: under
/// expand/contract they only added things this version does not read.
pub fn migrator() -> Migrator {
    let mut migrator = sqlx::migrate!("./migrations/postgres");
    migrator.set_ignore_missing(true);
    migrator
}

pub struct PgCatalog {
    pool: PgPool,
}

/// Ledger entries deleted per statement by [`Catalog::purge_burned_tokens`]: short
/// transactions, so a purge never holds many locks at once.
const PURGE_BATCH: i64 = 5_000;

/// How often a commit is retried after a transient conflict (deadlock, serialization failure,
/// a unique violation of a race it did not foresee).
const COMMIT_ATTEMPTS: u32 = 5;

/// What to do about the schema when the catalog opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Migrate {
    /// Apply pending migrations (the default for `serve`, and what `folio migrate` does).
    Apply,
    /// Apply nothing; fail unless every migration this binary knows is already applied.
    Verify,
}

impl PgCatalog {
    /// `url` is a libpq-style URL, `postgres://user:password@host:port/database?…`; a schema
    /// other than `public` is chosen with `options[search_path]=NAME` (or
    /// `options=-c search_path=NAME`).
    pub async fn open(
        url: &str,
        settings: &PostgresConfig,
        migrate: Migrate,
    ) -> anyhow::Result<Self> {
        let options = PgConnectOptions::from_str(url).context("invalid postgres:// catalog URL")?;
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(Duration::from_secs(settings.acquire_timeout_secs.max(1)))
            // A connection the database (or the network) dropped is found out before a
            // request gets it, so the pool heals by itself when the database is back.
            .test_before_acquire(true)
            .idle_timeout(Duration::from_secs(600))
            .connect_with(options)
            .await
            .context("connecting to the PostgreSQL catalog")?;
        let catalog = PgCatalog { pool };
        match migrate {
            Migrate::Apply => catalog.migrate().await?,
            Migrate::Verify => catalog.verify_schema().await?,
        }
        Ok(catalog)
    }

    /// Applies pending migrations. Safe to run from several instances at once (the migrator
    /// holds an advisory lock) and against a schema that a newer version already migrated
    /// (expand/contract: migrations this binary does not know are left alone).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        migrator()
            .run(&self.pool)
            .await
            .context("migrating the PostgreSQL catalog")
    }

    /// Fails unless every migration embedded in this binary has been applied.
    async fn verify_schema(&self) -> anyhow::Result<()> {
        let applied: Vec<i64> = sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap_or_default();
        let missing: Vec<String> = migrator()
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .map(|m| format!("{} {}", m.version, m.description))
            .collect();
        if !missing.is_empty() {
            anyhow::bail!(
                "the catalog schema is behind this version (missing: {}); run `folio migrate` first",
                missing.join(", ")
            );
        }
        Ok(())
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn insert_key(
        tx: &mut Transaction<'_, Postgres>,
        account_id: &str,
        expires_at: Option<i64>,
    ) -> anyhow::Result<ApiKey> {
        let public = ids::api_key("public_");
        let private = ids::api_key("private_");
        Self::insert_given_key(tx, account_id, &public, &private, expires_at).await
    }

    async fn insert_given_key(
        tx: &mut Transaction<'_, Postgres>,
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
             expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
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

    /// One attempt at an upload's catalog writes; the rules are [`commit`]'s, this is their
    /// SQL and locking.
    async fn try_commit(&self, up: &NewUpload) -> anyhow::Result<CommitOutcome> {
        let now = ids::now_millis();
        let mut tx = self.pool.begin().await?;
        // Ancestors first and always in the same (top-down) order, so that two commits never
        // wait on each other's folders in opposite orders.
        insert_folders(&mut tx, &up.account_id, &up.folder_ancestors, now).await?;

        let version = if up.use_unique_file_name {
            let name = insert_unique_file(&mut tx, up, now).await?;
            commit::create(up, &name, now)
        } else {
            let name = &up.base_name;
            let path = commit::fixed_path(up);
            let mut existing = None;
            let mut created = false;
            // At most two rounds: either the row exists and is locked, or this commit creates
            // it, or a concurrent commit created it in between (it has committed by the time
            // our insert returns), and the second round finds it.
            for _ in 0..3 {
                existing = sqlx::query(&format!("{FILE_AT_PATH} FOR UPDATE"))
                    .bind(&up.account_id)
                    .bind(&path)
                    .fetch_optional(&mut *tx)
                    .await?
                    .as_ref()
                    .map(file_at_path_from_row)
                    .transpose()?;
                if existing.is_some() {
                    break;
                }
                if insert_file(&mut tx, up, &commit::new_file(up, name, now)).await? {
                    created = true;
                    break;
                }
            }
            match existing {
                None if created => commit::create(up, name, now),
                None => anyhow::bail!("the path {path} neither exists nor can be created"),
                Some(file) => {
                    if let Err(refusal) = commit::may_overwrite(up) {
                        // Undo the folder inserts and release the row lock at once: other
                        // commits to this path may be waiting on it.
                        tx.rollback().await?;
                        return Ok(refusal.into());
                    }
                    let current = sqlx::query(CURRENT_FOR_OVERWRITE)
                        .bind(&file.file_id)
                        .bind(&file.current_version_id)
                        .fetch_one(&mut *tx)
                        .await?;
                    let current = current_for_overwrite_from_row(&current)?;
                    let (update, version) = match commit::overwrite(up, &file, current, now) {
                        Ok(planned) => planned,
                        Err(refusal) => {
                            tx.rollback().await?;
                            return Ok(refusal.into());
                        }
                    };
                    set_current_version(&mut tx, &update).await?;
                    version
                }
            }
        };
        let row = VersionRow::of(&version)?;
        bind_version_row!(sqlx::query(INSERT_VERSION), &row)
            .execute(&mut *tx)
            .await?;
        // A new file takes its first version's id.
        let change = if version.file_id == version.version_id {
            Change::Created(&version)
        } else {
            Change::VersionCreated(&version)
        };
        write_outbox(&mut tx, &up.outbox, change).await?;
        tx.commit().await.context(super::CommitOutcomeUnknown)?;
        Ok(CommitOutcome::Committed(Box::new(version)))
    }
}

/// Inserts the `files` row of a new file; false when its path is taken (by a row that is
/// committed by the time this returns).
async fn insert_file(
    tx: &mut Transaction<'_, Postgres>,
    up: &NewUpload,
    file: &commit::NewFile,
) -> anyhow::Result<bool> {
    let done = bind_new_file!(
        sqlx::query(&format!(
            "{INSERT_FILE} ON CONFLICT (account_id, file_path) DO NOTHING"
        )),
        &up.account_id,
        &up.folder_path,
        file
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Creates the file under the first of [`commit::unique_names`] that no file holds; the
/// unique key settles a clash rather than a look-ahead.
async fn insert_unique_file(
    tx: &mut Transaction<'_, Postgres>,
    up: &NewUpload,
    now: i64,
) -> anyhow::Result<String> {
    for name in commit::unique_names(up) {
        if insert_file(tx, up, &commit::new_file(up, &name, now)).await? {
            return Ok(name);
        }
    }
    Err(commit::no_unique_name())
}

/// Conflicts that a fresh attempt of the same transaction resolves.
fn is_transient(err: &anyhow::Error) -> bool {
    let Some(sqlx::Error::Database(db)) = err.downcast_ref::<sqlx::Error>() else {
        return false;
    };
    matches!(
        db.code().as_deref(),
        // serialization_failure, deadlock_detected, unique_violation
        Some("40001") | Some("40P01") | Some("23505")
    )
}

#[async_trait]
impl Catalog for PgCatalog {
    async fn bootstrap(&self) -> anyhow::Result<Option<ApiKey>> {
        let mut tx = self.pool.begin().await?;
        // Instances started together must not each create a default account: this lock mode
        // conflicts with itself, so the second one waits and then sees the first one's account.
        // Plain reads of `accounts` are not blocked.
        sqlx::query("LOCK TABLE accounts IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
            .fetch_one(&mut *tx)
            .await?;
        if count > 0 {
            // Ends the transaction (and its lock) now rather than when the pool gets around to
            // rolling back a dropped one.
            tx.commit().await?;
            return Ok(None);
        }
        let account_id = ids::object_id();
        sqlx::query("INSERT INTO accounts (id, url_id, created_at) VALUES ($1, $2, $3)")
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
        let mut tx = self.pool.begin().await?;
        let account_id: String = match account_id {
            Some(id) => sqlx::query_scalar("SELECT id FROM accounts WHERE id = $1")
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
        let mut tx = self.pool.begin().await?;
        let account = Account {
            id: ids::object_id(),
            url_id: url_id.to_owned(),
            disabled: false,
        };
        let inserted = sqlx::query(super::rows::INSERT_ACCOUNT)
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
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(account_from_row).collect()
    }

    async fn set_account_disabled(&self, url_id: &str, disabled: bool) -> anyhow::Result<bool> {
        let done = sqlx::query(super::rows::SET_ACCOUNT_DISABLED)
            .bind(disabled)
            .bind(url_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn import_key(&self, public_key: &str, private_key: &str) -> anyhow::Result<ApiKey> {
        let mut tx = self.pool.begin().await?;
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
        let rows = sqlx::query(&all_keys()).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| key_from_row(r).map(|k| k.key))
            .collect()
    }

    async fn account_keys(&self, account_id: &str) -> anyhow::Result<Vec<ApiKey>> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k JOIN accounts a ON a.id = k.account_id \
             WHERE k.account_id = $1 ORDER BY k.created_at, k.public_key"
        ))
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| key_from_row(r).map(|k| k.key))
            .collect()
    }

    async fn revoke_key(&self, public_key: &str) -> anyhow::Result<bool> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked = TRUE WHERE public_key = $1 AND NOT revoked")
                .bind(public_key)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn key_by_private(&self, private_key: &str) -> anyhow::Result<Option<KeyWithAccount>> {
        let hash = Sha256::digest(private_key.as_bytes()).to_vec();
        let row = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k JOIN accounts a ON a.id = k.account_id \
             WHERE k.private_key_hash = $1"
        ))
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let found = key_from_row(&row)?;
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
        let row = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k JOIN accounts a ON a.id = k.account_id \
             WHERE k.public_key = $1"
        ))
        .bind(public_key)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn account_by_id(&self, id: &str) -> anyhow::Result<Option<Account>> {
        let row = sqlx::query(&format!("{SELECT_ACCOUNT} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn account_by_url_id(&self, url_id: &str) -> anyhow::Result<Option<Account>> {
        let row = sqlx::query(&format!("{SELECT_ACCOUNT} WHERE url_id = $1"))
            .bind(url_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn burn_token(
        &self,
        account_id: &str,
        token_hash: &[u8; 32],
        expires_at: i64,
    ) -> anyhow::Result<bool> {
        // One statement, atomic across instances: of any number of concurrent burns of one
        // token, exactly one inserts a row.
        let done = sqlx::query(
            "INSERT INTO burned_tokens (account_id, token_hash, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(account_id)
        .bind(&token_hash[..])
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn purge_burned_tokens(&self, now: i64) -> anyhow::Result<u64> {
        // In small batches, skipping rows another instance's purge holds: each statement is a
        // short transaction that never waits, and burns (inserts of fresh keys) never wait on
        // it either.
        let mut total = 0;
        loop {
            let done = sqlx::query(
                "DELETE FROM burned_tokens WHERE (account_id, token_hash) IN ( \
                   SELECT account_id, token_hash FROM burned_tokens WHERE expires_at < $1 \
                   LIMIT $2 FOR UPDATE SKIP LOCKED)",
            )
            .bind(now)
            .bind(PURGE_BATCH)
            .execute(&self.pool)
            .await?;
            total += done.rows_affected();
            if done.rows_affected() < PURGE_BATCH as u64 {
                return Ok(total);
            }
        }
    }

    async fn commit_upload(&self, up: &NewUpload) -> anyhow::Result<CommitOutcome> {
        let mut attempt = 1;
        loop {
            match self.try_commit(up).await {
                Err(e) if attempt < COMMIT_ATTEMPTS && is_transient(&e) => {
                    tracing::debug!(error = %e, attempt, "commit conflict; retrying");
                    attempt += 1;
                }
                other => return other,
            }
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
             WHERE f.account_id = $1 AND f.file_path = $2"
        ))
        .bind(account_id)
        .bind(file_path)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(version_from_row).transpose()
    }

    async fn create_custom_field(&self, field: &CustomField) -> anyhow::Result<FieldWrite> {
        let inserted = sqlx::query(
            "INSERT INTO custom_metadata_fields \
             (field_id, account_id, name, label, description, schema, deleted, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&field.id)
        .bind(&field.account_id)
        .bind(&field.name)
        .bind(&field.label)
        .bind(&field.description)
        .bind(to_json(&field.schema)?)
        .bind(field.deleted)
        .bind(field.created_at_ms)
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => Ok(FieldWrite::Done(field.clone())),
            Err(e) if is_unique_violation(&e) => {
                let name_taken: Option<String> = sqlx::query_scalar(
                    "SELECT field_id FROM custom_metadata_fields \
                     WHERE account_id = $1 AND name = $2",
                )
                .bind(&field.account_id)
                .bind(&field.name)
                .fetch_optional(&self.pool)
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
        let rows = sqlx::query(&format!(
            "SELECT {FIELD_COLUMNS} FROM custom_metadata_fields \
             WHERE account_id = $1 AND ($2 OR deleted = FALSE) \
             ORDER BY created_at, field_id"
        ))
        .bind(account_id)
        .bind(include_deleted)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(field_from_row).collect()
    }

    async fn custom_field(
        &self,
        account_id: &str,
        id: &str,
    ) -> anyhow::Result<Option<CustomField>> {
        let row = sqlx::query(&format!(
            "SELECT {FIELD_COLUMNS} FROM custom_metadata_fields \
             WHERE account_id = $1 AND field_id = $2"
        ))
        .bind(account_id)
        .bind(id)
        .fetch_optional(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(&format!(
            "SELECT {FIELD_COLUMNS} FROM custom_metadata_fields \
             WHERE account_id = $1 AND field_id = $2 FOR UPDATE"
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
            "UPDATE custom_metadata_fields SET label = $1, schema = $2 \
             WHERE account_id = $3 AND field_id = $4",
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
            "UPDATE custom_metadata_fields SET deleted = TRUE \
             WHERE account_id = $1 AND field_id = $2 AND deleted = FALSE",
        )
        .bind(account_id)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_ai_tags(
        &self,
        version_id: &str,
        ai_tags: &serde_json::Value,
    ) -> anyhow::Result<bool> {
        let stored = (!ai_tags.is_null()).then(|| to_json(ai_tags)).transpose()?;
        let done = sqlx::query("UPDATE file_versions SET ai_tags = $1 WHERE version_id = $2")
            .bind(stored)
            .bind(version_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_files(
        &self,
        account_id: &str,
        query: &super::listing::ListQuery,
    ) -> anyhow::Result<Vec<super::ListedItem>> {
        let sql = super::listing::compile(query, account_id, super::listing::Dialect::Postgres);
        let mut statement = sqlx::query(&sql.text);
        for bind in &sql.binds {
            statement = match bind {
                super::listing::Bind::Text(text) => statement.bind(text.as_str()),
                super::listing::Bind::Int(n) => statement.bind(*n),
                super::listing::Bind::Real(x) => statement.bind(*x),
            };
        }
        let rows = statement.fetch_all(&self.pool).await?;
        rows.iter().map(listed_from_row).collect()
    }

    async fn create_folder(&self, account_id: &str, target: &FolderTarget) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
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
        // Compared in the "C" collation (bytewise, like SQLite's BINARY), so the prefix is the
        // range [p, succ(p)) of the files_path_c index.
        let upper = super::listing::successor(prefix);
        let rows = sqlx::query(
            "SELECT file_id, file_path FROM files \
             WHERE account_id = $1 AND file_path COLLATE \"C\" >= $2 AND ($3::text IS NULL OR file_path COLLATE \"C\" < $4) \
             AND ($5::text IS NULL OR file_path COLLATE \"C\" > $6) \
             ORDER BY file_path COLLATE \"C\" LIMIT $7",
        )
        .bind(account_id)
        .bind(prefix)
        .bind(&upper)
        .bind(&upper)
        .bind(after)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
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
             WHERE account_id = $1 AND path COLLATE \"C\" >= $2 AND ($3::text IS NULL OR path COLLATE \"C\" < $4) \
             ORDER BY path COLLATE \"C\"",
        )
        .bind(account_id)
        .bind(prefix)
        .bind(&upper)
        .bind(&upper)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn delete_empty_folders(&self, account_id: &str, prefix: &str) -> anyhow::Result<u64> {
        let upper = super::listing::successor(prefix);
        // A folder path ends with `/`; the paths under it are [path, path minus `/` plus `0`).
        let done = sqlx::query(
            "DELETE FROM folders \
             WHERE account_id = $1 AND path COLLATE \"C\" >= $2 AND ($3::text IS NULL OR path COLLATE \"C\" < $4) \
             AND NOT EXISTS (SELECT 1 FROM files f WHERE f.account_id = folders.account_id \
                 AND f.file_path COLLATE \"C\" >= folders.path \
                 AND f.file_path COLLATE \"C\" < left(folders.path, -1) || '0')",
        )
        .bind(account_id)
        .bind(prefix)
        .bind(&upper)
        .bind(&upper)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn insert_jobs(&self, jobs: &[Job]) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
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
            "SELECT {JOB_COLUMNS} FROM jobs WHERE account_id = $1 AND job_id = $2"
        ))
        .bind(account_id)
        .bind(job_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    async fn claim_job(
        &self,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> anyhow::Result<Option<Job>> {
        // SKIP LOCKED: instances claiming at once pass over the row another one is taking
        // and get the next job (or none), instead of waiting for it.
        let row = sqlx::query(&format!(
            "UPDATE jobs SET lease_owner = $1, lease_until = $2, attempts = attempts + 1, \
             updated_at = $3 \
             WHERE job_id = (SELECT job_id FROM jobs WHERE status = 'Pending' \
                 AND (lease_until IS NULL OR lease_until < $4) \
                 AND (depends_on IS NULL OR NOT EXISTS (SELECT 1 FROM jobs d \
                     WHERE d.job_id = jobs.depends_on AND d.status = 'Pending')) \
                 ORDER BY created_at, job_id LIMIT 1 FOR UPDATE SKIP LOCKED) \
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(owner)
        .bind(now_ms.saturating_add(lease_ms))
        .bind(now_ms)
        .bind(now_ms)
        .fetch_optional(&self.pool)
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
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn complete_job(&self, job_id: &str, owner: &str, now_ms: i64) -> anyhow::Result<bool> {
        let done = sqlx::query(COMPLETE_JOB)
            .bind(now_ms)
            .bind(now_ms)
            .bind(job_id)
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_jobs(&self, owner: &str) -> anyhow::Result<u64> {
        let done = sqlx::query(RELEASE_JOBS)
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn blob_is_referenced(&self, blob_key: &str) -> anyhow::Result<bool> {
        let found: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM file_versions WHERE blob_key = $1")
                .bind(blob_key)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    async fn add_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> anyhow::Result<()> {
        bind_endpoint!(sqlx::query(INSERT_ENDPOINT), endpoint)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn webhook_endpoints(&self) -> anyhow::Result<Vec<WebhookEndpoint>> {
        let rows = sqlx::query(&all_endpoints()).fetch_all(&self.pool).await?;
        rows.iter().map(endpoint_from_row).collect()
    }

    async fn remove_webhook_endpoint(&self, id: &str) -> anyhow::Result<bool> {
        let mut tx = self.pool.begin().await?;
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
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn sync_config_endpoints(&self, endpoints: &[WebhookEndpoint]) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
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
        let mut tx = self.pool.begin().await?;
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
        let rows = sqlx::query(&lease_due())
            .bind(now_ms)
            .bind(i64::from(limit))
            .bind(now_ms.saturating_add(lease_ms))
            .fetch_all(&self.pool)
            .await?;
        let mut claimed = rows
            .iter()
            .map(claimed_from_row)
            .collect::<anyhow::Result<Vec<_>>>()?;
        claimed.sort_by_key(|c| c.id);
        Ok(claimed)
    }

    async fn finish_deliveries(&self, reports: &[DeliveryReport]) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        for report in reports {
            let (state, next, finished) = finish_values(report);
            sqlx::query(FINISH_DELIVERY)
                .bind(state)
                .bind(next)
                .bind(report.status.map(i64::from))
                .bind(&report.error)
                .bind(finished)
                .bind(report.at_ms)
                .bind(report.id)
                .execute(&mut *tx)
                .await?;
            if report.outcome == DeliveryOutcome::EndpointGone {
                sqlx::query(DISABLE_ENDPOINT)
                    .bind(report.at_ms)
                    .bind(report.id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn deliveries(
        &self,
        failed_only: bool,
        limit: u32,
    ) -> anyhow::Result<Vec<DeliveryRecord>> {
        let rows = sqlx::query(&delivery_log(failed_only))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(delivery_record_from_row).collect()
    }

    async fn purge_deliveries(&self, before_ms: i64) -> anyhow::Result<u64> {
        let done = sqlx::query(PURGE_DELIVERIES)
            .bind(before_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn hit(&self, scope: &str, window_start: i64) -> anyhow::Result<u64> {
        // Not the upload's transaction, and nothing to lose in a crash: no fsync wait.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
        let hits: i64 = sqlx::query_scalar(
            "INSERT INTO rate_counters (scope, window_start, hits) VALUES ($1, $2, 1) \
             ON CONFLICT (scope, window_start) DO UPDATE SET hits = rate_counters.hits + 1 \
             RETURNING hits",
        )
        .bind(scope)
        .bind(window_start)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(u64::try_from(hits).unwrap_or_default())
    }

    async fn purge_hits(&self, before: i64) -> anyhow::Result<u64> {
        let done = sqlx::query("DELETE FROM rate_counters WHERE window_start < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn usage(&self, account_id: &str) -> anyhow::Result<Usage> {
        let row = sqlx::query(super::rows::ACCOUNT_USAGE)
            .bind(account_id)
            .fetch_one(&self.pool)
            .await?;
        super::rows::usage_from_row(&row)
    }

    async fn versions_after(&self, after: &str, limit: u32) -> anyhow::Result<Vec<VersionBlob>> {
        let rows = sqlx::query(super::rows::VERSIONS_AFTER)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(super::rows::version_blob_from_row)
            .collect()
    }

    async fn file_sequences_after(
        &self,
        after: &str,
        limit: u32,
    ) -> anyhow::Result<Vec<super::FileSequence>> {
        let rows = sqlx::query(super::rows::FILE_SEQUENCES_AFTER)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(super::rows::file_sequence_from_row)
            .collect()
    }

    async fn raise_last_version_number(&self, file_id: &str, to: i64) -> anyhow::Result<bool> {
        let done = sqlx::query(super::rows::RAISE_LAST_VERSION_NUMBER)
            .bind(to)
            .bind(file_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn create_console_session(&self, session: &super::ConsoleSession) -> anyhow::Result<()> {
        super::rows::bind_console_session!(session)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn console_session(
        &self,
        id_hash: &[u8],
    ) -> anyhow::Result<Option<super::ConsoleSession>> {
        let row = sqlx::query(&super::rows::select_console_session())
            .bind(id_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref()
            .map(super::rows::console_session_from_row)
            .transpose()
    }

    async fn take_console_session(
        &self,
        id_hash: &[u8],
    ) -> anyhow::Result<Option<super::ConsoleSession>> {
        let row = sqlx::query(&super::rows::take_console_session())
            .bind(id_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref()
            .map(super::rows::console_session_from_row)
            .transpose()
    }

    async fn purge_console_sessions(&self, now: i64) -> anyhow::Result<u64> {
        let done = sqlx::query(super::rows::PURGE_CONSOLE_SESSIONS)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn pending_deliveries(&self) -> anyhow::Result<u64> {
        let count: i64 = sqlx::query_scalar(super::rows::COUNT_PENDING_DELIVERIES)
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    async fn create_resumable(
        &self,
        upload: &ResumableUpload,
        caps: IncompleteCaps,
    ) -> anyhow::Result<bool> {
        let done = resumable::bind_resumable!(sqlx::query(resumable::INSERT), upload, caps)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn resumable(&self, id_hash: &[u8]) -> anyhow::Result<Option<ResumableUpload>> {
        let row = sqlx::query(&resumable::by_id_hash())
            .bind(id_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(resumable::from_row).transpose()
    }

    async fn resumable_by_ledger(
        &self,
        ledger_key: &[u8],
    ) -> anyhow::Result<Option<ResumableUpload>> {
        let row = sqlx::query(&resumable::by_ledger_key())
            .bind(ledger_key)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(resumable::from_row).transpose()
    }

    async fn lease_resumable(
        &self,
        id_hash: &[u8],
        lease: &Lease,
        now_ms: i64,
    ) -> anyhow::Result<bool> {
        let query = sqlx::query(resumable::LEASE)
            .bind(id_hash)
            .bind(&lease.token)
            .bind(lease.until_ms)
            .bind(now_ms);
        Ok(self.relaxed(query).await? == 1)
    }

    async fn advance_resumable(
        &self,
        id_hash: &[u8],
        lease: &Lease,
        offset: u64,
        storage: &str,
    ) -> anyhow::Result<bool> {
        let query = sqlx::query(resumable::ADVANCE)
            .bind(id_hash)
            .bind(&lease.token)
            .bind(i64::try_from(offset)?)
            .bind(storage)
            .bind(lease.until_ms);
        Ok(self.relaxed(query).await? == 1)
    }

    async fn release_resumable(&self, id_hash: &[u8], lease: &Lease) -> anyhow::Result<()> {
        let query = sqlx::query(resumable::RELEASE)
            .bind(id_hash)
            .bind(&lease.token);
        self.relaxed(query).await?;
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
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_resumable(&self, id_hash: &[u8]) -> anyhow::Result<bool> {
        let done = sqlx::query(resumable::DELETE)
            .bind(id_hash)
            .execute(&self.pool)
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
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(resumable::from_row).collect()
    }

    async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn version_exists(&self, version_id: &str) -> anyhow::Result<bool> {
        let found: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM file_versions WHERE version_id = $1")
                .bind(version_id)
                .fetch_optional(&self.pool)
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
             WHERE f.account_id = $1 AND f.file_id = $2"
        ))
        .bind(account_id)
        .bind(file_id)
        .fetch_optional(&self.pool)
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
             WHERE f.account_id = $1 AND f.file_id = $2 ORDER BY v.version_number DESC"
        ))
        .bind(account_id)
        .bind(file_id)
        .fetch_all(&self.pool)
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
             WHERE f.account_id = $1 AND f.file_id = $2 AND v.version_id = $3"
        ))
        .bind(account_id)
        .bind(file_id)
        .bind(version_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(version_from_row).transpose()
    }

    async fn folder_by_path(
        &self,
        account_id: &str,
        path: &str,
    ) -> anyhow::Result<Option<StoredFolder>> {
        let row = sqlx::query(&format!(
            "SELECT {FOLDER_COLUMNS} FROM folders WHERE account_id = $1 AND path = $2"
        ))
        .bind(account_id)
        .bind(path)
        .fetch_optional(&self.pool)
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
        retrying(|| self.try_edit(account_id, &ids, scope, edit, outbox)).await
    }

    async fn delete_files(
        &self,
        account_id: &str,
        file_ids: &[String],
        outbox: &Outbox,
    ) -> anyhow::Result<DeleteOutcome> {
        let ids = super::unique_ids(file_ids);
        retrying(|| self.try_delete_files(account_id, &ids, outbox)).await
    }

    async fn delete_version(
        &self,
        account_id: &str,
        file_id: &str,
        version_id: &str,
        outbox: &Outbox,
    ) -> anyhow::Result<VersionDelete> {
        let mut tx = self.pool.begin().await?;
        let Some(current) = lock_file(&mut tx, account_id, file_id).await? else {
            return Ok(VersionDelete::NoFile);
        };
        let blob_key: Option<String> = sqlx::query_scalar(
            "SELECT blob_key FROM file_versions WHERE file_id = $1 AND version_id = $2",
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
        sqlx::query("DELETE FROM file_versions WHERE version_id = $1")
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
        let mut tx = self.pool.begin().await?;
        let Some(current) = lock_file(&mut tx, account_id, file_id).await? else {
            return Ok(RestoreOutcome::NoFile);
        };
        let found: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM file_versions WHERE file_id = $1 AND version_id = $2",
        )
        .bind(file_id)
        .bind(version_id)
        .fetch_optional(&mut *tx)
        .await?;
        if found.is_none() {
            return Ok(RestoreOutcome::NoVersion);
        }
        if current != version_id {
            sqlx::query(
                "UPDATE files SET current_version_id = $1, updated_at = $2 WHERE file_id = $3",
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
        retrying(|| self.try_insert_copy(copy, outbox)).await
    }

    async fn move_file(
        &self,
        account_id: &str,
        source_path: &str,
        folder: &FolderTarget,
        max_versions: u32,
        outbox: &Outbox,
    ) -> anyhow::Result<MoveOutcome> {
        retrying(|| self.try_move(account_id, source_path, folder, max_versions, outbox)).await
    }

    async fn rename_file(
        &self,
        account_id: &str,
        file_path: &str,
        new_name: &str,
        outbox: &Outbox,
    ) -> anyhow::Result<RenameOutcome> {
        let mut tx = self.pool.begin().await?;
        let source = sqlx::query(
            "SELECT file_id, folder_path FROM files WHERE account_id = $1 AND file_path = $2 \
             FOR UPDATE",
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
            // A commit creating the new path right now makes this wait for it and then fail
            // on the unique key: the name is taken, whoever took it first.
            let renamed = sqlx::query(
                "UPDATE files SET name = $1, file_path = $2, updated_at = $3 WHERE file_id = $4",
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

/// The media API's writes on PostgreSQL: each locks the `files` rows it touches (in file id
/// order when there are several, so two bulk writes never wait on each other in a cycle).
impl PgCatalog {
    /// Runs one statement whose commit does not wait for the WAL to reach the disk: leases
    /// and a resumable upload's progress, which a crash of the database may lose without harm
    /// (a lease ends anyway; progress lost makes the client send those bytes again). Returns
    /// the rows it changed.
    async fn relaxed(
        &self,
        query: sqlx::query::Query<'_, Postgres, sqlx::postgres::PgArguments>,
    ) -> anyhow::Result<u64> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
        let done = query.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    async fn try_edit(
        &self,
        account_id: &str,
        ids: &[String],
        scope: EditScope,
        edit: VersionEdit<'_>,
        outbox: &Outbox,
    ) -> anyhow::Result<EditOutcome> {
        let mut tx = self.pool.begin().await?;
        let missing = lock_files(&mut tx, account_id, ids).await?;
        if !missing.is_empty() {
            return Ok(EditOutcome::Missing(missing));
        }
        let now = ids::now_millis();
        let join = match scope {
            EditScope::Current => "v.version_id = f.current_version_id",
            EditScope::AllVersions => "v.file_id = f.file_id",
        };
        for id in ids {
            let rows = sqlx::query(&format!(
                "SELECT {VERSION_COLUMNS} FROM files f JOIN file_versions v ON {join} \
                 WHERE f.file_id = $1"
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
            sqlx::query("UPDATE files SET updated_at = $1 WHERE file_id = $2")
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let mut current = Vec::with_capacity(ids.len());
        for id in ids {
            let version = current_in(&mut tx, id).await?;
            write_outbox(&mut tx, outbox, Change::Updated(&version)).await?;
            current.push(version);
        }
        tx.commit().await?;
        Ok(EditOutcome::Done(current))
    }

    async fn try_delete_files(
        &self,
        account_id: &str,
        ids: &[String],
        outbox: &Outbox,
    ) -> anyhow::Result<DeleteOutcome> {
        let mut tx = self.pool.begin().await?;
        let missing = lock_files(&mut tx, account_id, ids).await?;
        if !missing.is_empty() {
            return Ok(DeleteOutcome::Missing(missing));
        }
        // Read after the lock: a version an overwrite committed while we waited is included.
        let rows = sqlx::query(
            "SELECT version_id, blob_key FROM file_versions WHERE file_id = ANY($1) \
             ORDER BY file_id, version_number",
        )
        .bind(ids)
        .fetch_all(&mut *tx)
        .await?;
        let mut removed = Vec::with_capacity(rows.len());
        for row in rows {
            removed.push(RemovedVersion {
                version_id: row.try_get("version_id")?,
                blob_key: row.try_get("blob_key")?,
            });
        }
        sqlx::query("DELETE FROM file_versions WHERE file_id = ANY($1)")
            .bind(ids)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM files WHERE file_id = ANY($1)")
            .bind(ids)
            .execute(&mut *tx)
            .await?;
        for file_id in ids {
            write_outbox(&mut tx, outbox, Change::Deleted { file_id }).await?;
        }
        tx.commit().await?;
        Ok(DeleteOutcome::Deleted(removed))
    }

    async fn try_insert_copy(
        &self,
        copy: &NewCopy,
        outbox: &Outbox,
    ) -> anyhow::Result<CopyOutcome> {
        let Some(last) = copy.versions.last() else {
            anyhow::bail!("a copy without versions");
        };
        let now = ids::now_millis();
        let n = i64::try_from(copy.versions.len())?;
        let mut tx = self.pool.begin().await?;
        insert_folders(&mut tx, &copy.account_id, &copy.folder.ancestors, now).await?;
        let path = format!("{}{}", copy.folder.path, copy.name);
        let existing = sqlx::query(
            "SELECT file_id, last_version_number FROM files \
             WHERE account_id = $1 AND file_path = $2 FOR UPDATE",
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
                    sqlx::query_scalar("SELECT COUNT(*) FROM file_versions WHERE file_id = $1")
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
                    tx.rollback().await?;
                    return Ok(CopyOutcome::TooManyVersions);
                };
                set_current_version(&mut tx, &update).await?;
                (target.file_id, numbers)
            }
            None => {
                let Some(file) = commit::copied_file(copy, now)? else {
                    tx.rollback().await?;
                    return Ok(CopyOutcome::TooManyVersions);
                };
                // A commit creating the path meanwhile makes this fail on the unique key; the
                // retry then finds (and locks) that file and appends to it.
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

    async fn try_move(
        &self,
        account_id: &str,
        source_path: &str,
        folder: &FolderTarget,
        max_versions: u32,
        outbox: &Outbox,
    ) -> anyhow::Result<MoveOutcome> {
        let now = ids::now_millis();
        let mut tx = self.pool.begin().await?;
        let source = sqlx::query(
            "SELECT file_id, current_version_id, name FROM files \
             WHERE account_id = $1 AND file_path = $2",
        )
        .bind(account_id)
        .bind(source_path)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(source) = source else {
            return Ok(MoveOutcome::NotFound);
        };
        let name: String = source.try_get("name")?;
        let dest_path = format!("{}{}", folder.path, name);
        if dest_path == source_path {
            return Ok(MoveOutcome::Moved);
        }
        insert_folders(&mut tx, account_id, &folder.ancestors, now).await?;
        // Both rows locked in file id order (the order every multi-file write uses).
        let locked = sqlx::query(
            "SELECT file_id, file_path, current_version_id, last_version_number FROM files \
             WHERE account_id = $1 AND file_path IN ($2, $3) ORDER BY file_id FOR UPDATE",
        )
        .bind(account_id)
        .bind(source_path)
        .bind(&dest_path)
        .fetch_all(&mut *tx)
        .await?;
        let mut source = None;
        let mut dest = None;
        for row in locked {
            let path: String = row.try_get("file_path")?;
            if path == source_path {
                source = Some(row);
            } else {
                dest = Some(row);
            }
        }
        // Deleted while we waited for the lock.
        let Some(source) = source else {
            tx.rollback().await?;
            return Ok(MoveOutcome::NotFound);
        };
        let source_id: String = source.try_get("file_id")?;
        let source_current: String = source.try_get("current_version_id")?;
        match dest {
            None => {
                // A commit creating the destination meanwhile makes this fail on the unique
                // key; the retry then appends to that file.
                sqlx::query(
                    "UPDATE files SET file_path = $1, folder_path = $2, updated_at = $3 \
                     WHERE file_id = $4",
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
                    "SELECT version_id FROM file_versions WHERE file_id = $1 \
                     ORDER BY version_id = $2, version_number",
                )
                .bind(&source_id)
                .bind(&source_current)
                .fetch_all(&mut *tx)
                .await?;
                let version_count: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM file_versions WHERE file_id = $1")
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
                    tx.rollback().await?;
                    return Ok(MoveOutcome::TooManyVersions);
                };
                for (number, version_id) in numbers.zip(&moving) {
                    sqlx::query(
                        "UPDATE file_versions SET file_id = $1, version_number = $2 \
                         WHERE version_id = $3",
                    )
                    .bind(&target.file_id)
                    .bind(number)
                    .bind(version_id)
                    .execute(&mut *tx)
                    .await?;
                }
                set_current_version(&mut tx, &update).await?;
                sqlx::query("DELETE FROM files WHERE file_id = $1")
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
}

/// Runs `attempt` again after a transient conflict (deadlock, serialization failure, a unique
/// key another transaction took meanwhile), at most [`COMMIT_ATTEMPTS`] times.
async fn retrying<T, F, Fut>(attempt: F) -> anyhow::Result<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(e) if tries < COMMIT_ATTEMPTS && is_transient(&e) => {
                tracing::debug!(error = %e, tries, "catalog write conflict; retrying");
                tries += 1;
            }
            other => return other,
        }
    }
}

/// Writes the outbox rows of `change` in the change's transaction.
async fn write_outbox(
    tx: &mut Transaction<'_, Postgres>,
    outbox: &Outbox,
    change: Change<'_>,
) -> anyhow::Result<()> {
    for row in outbox.rows(&change) {
        bind_outbox_row!(&row).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Locks the `files` rows of `ids` (in id order); returns the ids that name no file of the
/// account.
async fn lock_files(
    tx: &mut Transaction<'_, Postgres>,
    account_id: &str,
    ids: &[String],
) -> anyhow::Result<Vec<String>> {
    let found: Vec<String> = sqlx::query_scalar(
        "SELECT file_id FROM files WHERE account_id = $1 AND file_id = ANY($2) \
         ORDER BY file_id FOR UPDATE",
    )
    .bind(account_id)
    .bind(ids)
    .fetch_all(&mut **tx)
    .await?;
    Ok(ids
        .iter()
        .filter(|id| !found.contains(id))
        .cloned()
        .collect())
}

/// Locks one file's row; its current version id, or `None` when there is no such file.
async fn lock_file(
    tx: &mut Transaction<'_, Postgres>,
    account_id: &str,
    file_id: &str,
) -> anyhow::Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT current_version_id FROM files WHERE account_id = $1 AND file_id = $2 FOR UPDATE",
    )
    .bind(account_id)
    .bind(file_id)
    .fetch_optional(&mut **tx)
    .await?)
}

/// The current version of a file that exists, read inside the transaction.
async fn current_in(
    tx: &mut Transaction<'_, Postgres>,
    file_id: &str,
) -> anyhow::Result<StoredVersion> {
    let row = sqlx::query(&format!(
        "SELECT {VERSION_COLUMNS} FROM files f \
         JOIN file_versions v ON v.version_id = f.current_version_id WHERE f.file_id = $1"
    ))
    .bind(file_id)
    .fetch_one(&mut **tx)
    .await?;
    version_from_row(&row)
}

/// Points a file at its newest version ([`commit::FileUpdate`]).
async fn set_current_version(
    tx: &mut Transaction<'_, Postgres>,
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

/// Creates the folders of a destination that do not exist yet (top down, like uploads).
async fn insert_folders(
    tx: &mut Transaction<'_, Postgres>,
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::testing::TestSchema;

    async fn open(schema: &TestSchema, migrate: Migrate) -> anyhow::Result<PgCatalog> {
        PgCatalog::open(&schema.url(), &PostgresConfig::default(), migrate).await
    }

    #[tokio::test]
    async fn verify_refuses_an_unmigrated_schema_and_accepts_a_migrated_one() {
        let schema = TestSchema::create().await.expect("schema");
        let err = open(&schema, Migrate::Verify)
            .await
            .err()
            .expect("an empty schema is behind");
        assert!(format!("{err:#}").contains("folio migrate"), "{err:#}");
        let first = open(&schema, Migrate::Apply).await.expect("migrate");
        // a second instance (and `folio migrate` run again) finds nothing to do
        let second = open(&schema, Migrate::Apply).await.expect("migrate again");
        open(&schema, Migrate::Verify).await.expect("verified");
        assert!(first.bootstrap().await.expect("bootstrap").is_some());
        assert!(second.bootstrap().await.expect("bootstrap").is_none());
    }

    #[tokio::test]
    async fn a_newer_migration_does_not_stop_an_older_instance() {
        // Expand/contract: a newer version applied a migration this binary does not know.
        let schema = TestSchema::create().await.expect("schema");
        let catalog = open(&schema, Migrate::Apply).await.expect("migrate");
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum,              execution_time) VALUES (99990101000000, 'from the future', TRUE, '\\x00', 0)",
        )
        .execute(catalog.pool())
        .await
        .expect("fake a newer migration");
        open(&schema, Migrate::Apply).await.expect("still opens");
        open(&schema, Migrate::Verify)
            .await
            .expect("still verifies");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn purging_a_large_ledger_does_not_hold_up_burns() {
        let schema = TestSchema::create().await.expect("schema");
        let catalog = Arc::new(open(&schema, Migrate::Apply).await.expect("migrate"));
        let now = crate::ids::now_secs();
        sqlx::query(
            "INSERT INTO burned_tokens (account_id, token_hash, expires_at) \
             SELECT 'acc', decode(md5(i::text) || md5((i + 1)::text), 'hex'), $1 \
             FROM generate_series(1, 23000) AS i",
        )
        .bind(now - 10)
        .execute(catalog.pool())
        .await
        .expect("fill the ledger");
        let purge = tokio::spawn({
            let catalog = Arc::clone(&catalog);
            async move { catalog.purge_burned_tokens(now).await.expect("purge") }
        });
        for i in 0..50u8 {
            let started = std::time::Instant::now();
            assert!(catalog
                .burn_token("acc", &[i; 32], now + 60)
                .await
                .expect("burn"));
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "a burn waited on the purge"
            );
        }
        assert_eq!(purge.await.expect("join"), 23_000);
        // the fresh entries are untouched
        assert!(!catalog
            .burn_token("acc", &[0; 32], now + 60)
            .await
            .expect("burn"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_instances_claiming_one_job_run_it_once() {
        let schema = TestSchema::create().await.expect("schema");
        let a: Arc<dyn Catalog> = Arc::new(open(&schema, Migrate::Apply).await.expect("a"));
        let b: Arc<dyn Catalog> = Arc::new(open(&schema, Migrate::Apply).await.expect("b"));
        let account = a
            .bootstrap()
            .await
            .expect("bootstrap")
            .expect("fresh")
            .account_id;
        let job = crate::store::Job {
            job_id: crate::ids::object_id(),
            account_id: account,
            kind: crate::store::JobKind::MoveFolder,
            completed: false,
            params: serde_json::json!({"from": "/a/", "to": "/b/a/"}),
            cursor: None,
            purge_request_id: None,
            depends_on: None,
            attempts: 0,
            created_at_ms: crate::ids::now_millis(),
        };
        a.insert_jobs(std::slice::from_ref(&job))
            .await
            .expect("insert");
        let now = crate::ids::now_millis();
        let claims = futures_util::future::join_all((0..20).map(|i| {
            let catalog = Arc::clone(if i % 2 == 0 { &a } else { &b });
            tokio::spawn(async move {
                catalog
                    .claim_job(&format!("instance-{}", i % 2), now, 60_000)
                    .await
                    .expect("claim")
            })
        }))
        .await;
        let won: Vec<_> = claims
            .into_iter()
            .filter_map(|r| r.expect("join"))
            .collect();
        assert_eq!(won.len(), 1, "{won:?}");
        assert_eq!(won[0].job_id, job.job_id);
        assert_eq!(won[0].attempts, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_instances_share_the_ledger_and_number_versions_together() {
        let schema = TestSchema::create().await.expect("schema");
        let a: Arc<dyn Catalog> = Arc::new(open(&schema, Migrate::Apply).await.expect("a"));
        let b: Arc<dyn Catalog> = Arc::new(open(&schema, Migrate::Apply).await.expect("b"));
        let (ka, kb) = tokio::join!(a.bootstrap(), b.bootstrap());
        let key = match (ka.expect("a"), kb.expect("b")) {
            (Some(k), None) | (None, Some(k)) => k,
            other => panic!("exactly one instance creates the account: {other:?}"),
        };
        let account = key.account_id;
        let exp = crate::ids::now_secs() + 60;
        assert!(a.burn_token(&account, &[1; 32], exp).await.expect("burn"));
        assert!(!b.burn_token(&account, &[1; 32], exp).await.expect("burn"));

        let tasks = (0..30).map(|i| {
            let catalog = Arc::clone(if i % 2 == 0 { &a } else { &b });
            let account = account.clone();
            tokio::spawn(async move {
                let version_id = crate::ids::object_id();
                let up = NewUpload {
                    account_id: account,
                    blob_key: crate::store::blob::blob_key(&version_id),
                    version_id,
                    folder_path: "/".into(),
                    folder_ancestors: vec![],
                    base_name: "shared.txt".into(),
                    proposed_name: None,
                    use_unique_file_name: false,
                    overwrite_file: true,
                    overwrite_tags: false,
                    overwrite_ai_tags: false,
                    overwrite_custom_metadata: false,
                    tags: None,
                    custom_metadata: None,
                    custom_metadata_defaults: Default::default(),
                    custom_coordinates: None,
                    is_private_file: false,
                    is_published: true,
                    description: None,
                    size: 1,
                    media: crate::store::MediaInfo::default(),
                    max_versions: 100,
                    outbox: Outbox::none(),
                };
                match catalog.commit_upload(&up).await.expect("commit") {
                    CommitOutcome::Committed(v) => v.version_number,
                    other => panic!("{other:?}"),
                }
            })
        });
        let mut numbers = Vec::new();
        for task in tasks.collect::<Vec<_>>() {
            numbers.push(task.await.expect("join"));
        }
        numbers.sort_unstable();
        assert_eq!(numbers, (1..=30).collect::<Vec<u32>>());
    }
}
