//! Persistence: the catalog (accounts, keys, files, versions, folders, the token ledger) and
//! the blob store.
//!
//! The catalog is one object-safe trait, [`Catalog`], so that the embedded SQLite default and
//! a shared PostgreSQL can sit behind it; blobs go through `object_store` ([`blob`]).
//! Expected outcomes (a path that is taken, a token already burned) are values, not errors:
//! an `Err` from here is always an internal failure.

pub mod blob;
mod commit;
pub mod listing;
pub mod postgres;
pub mod resumable;
mod rows;
pub mod sqlite;
#[cfg(test)]
mod suite;
#[doc(hidden)]
pub mod testing;
pub mod transfer;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::webhooks::outbox::{Change, Outbox};
pub use resumable::{IncompleteCaps, Lease, ResumableState, ResumableUpload};

/// A version's blob as the catalog records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionBlob {
    pub account_id: String,
    pub file_id: String,
    pub version_id: String,
    pub blob_key: String,
    pub size: u64,
}

/// How a file's versions are numbered, as the catalog records it (`folio fsck` judges it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileSequence {
    pub account_id: String,
    pub file_id: String,
    /// The highest number the file's versions ever had (the next version gets one more).
    pub last_version_number: i64,
    pub current_version_id: String,
    /// Its versions, and the highest number among them.
    pub versions: u64,
    pub highest: Option<i64>,
    /// Whether `current_version_id` is one of its versions.
    pub current_found: bool,
}

/// A sign-in to the console (`crate::console`): a session, or a one-time login link.
#[derive(Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// SHA-256 of the secret (the cookie's value, or the link's token).
    pub id_hash: Vec<u8>,
    pub kind: ConsoleSessionKind,
    /// The key pair signed in with: the session acts with it.
    pub public_key: String,
    pub csrf: String,
    /// Unix seconds.
    pub created_at: i64,
    pub expires_at: i64,
}

impl std::fmt::Debug for ConsoleSession {
    // The CSRF token is a secret of the page that holds it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleSession")
            .field("kind", &self.kind)
            .field("public_key", &self.public_key)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleSessionKind {
    Session,
    Link,
}

impl ConsoleSessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsoleSessionKind::Session => "session",
            ConsoleSessionKind::Link => "link",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "session" => Some(ConsoleSessionKind::Session),
            "link" => Some(ConsoleSessionKind::Link),
            _ => None,
        }
    }
}

/// What an account stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub files: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    /// First path segment of the account's delivery URLs.
    pub url_id: String,
    pub disabled: bool,
}

#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub public_key: String,
    pub private_key: String,
    pub account_id: String,
    pub revoked: bool,
    /// Unix seconds after which the key stops working, if any.
    pub expires_at: Option<i64>,
    pub created_at_ms: i64,
}

impl std::fmt::Debug for ApiKey {
    // The private key must never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("public_key", &self.public_key)
            .field("account_id", &self.account_id)
            .field("revoked", &self.revoked)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl ApiKey {
    /// Whether the key may authenticate at `now` (Unix seconds): not revoked, not expired.
    pub fn is_live(&self, now: i64) -> bool {
        !self.revoked && self.expires_at.is_none_or(|t| t > now)
    }
}

#[derive(Debug, Clone)]
pub struct KeyWithAccount {
    pub key: ApiKey,
    pub account: Account,
}

/// What the bytes said about a version (spec §4.2's media keys), kept as one JSON document.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MediaInfo {
    pub mime: String,
    pub file_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orientation: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_alpha: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bit_rate: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_codec: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_codec: Option<String>,
    /// Consolidated EXIF/IPTC/XMP (`embeddedMetadata`).
    #[serde(default)]
    pub embedded: serde_json::Map<String, Value>,
    /// The legacy `metadata` object of spec §4.7.
    #[serde(default)]
    pub legacy: Value,
}

/// The attributes an upload sets on the version it creates (spec §3.10).
#[derive(Debug, Clone)]
pub struct NewUpload {
    pub account_id: String,
    /// Allocated before the first byte was written; names the blob. Becomes the file id too
    /// when the upload creates a new file.
    pub version_id: String,
    pub blob_key: String,
    /// Folder path in canonical form (`/` or `/a/b/`) and its ancestors from the top.
    pub folder_path: String,
    pub folder_ancestors: Vec<String>,
    /// Sanitised name without the unique suffix.
    pub base_name: String,
    /// With `use_unique_file_name`, the suffixed name to try first: the one `checks` was
    /// evaluated against (`request.fileName` is the final name). Only if another file holds
    /// it does the catalog draw a new suffix.
    pub proposed_name: Option<String>,
    pub use_unique_file_name: bool,
    pub overwrite_file: bool,
    pub overwrite_tags: bool,
    pub overwrite_ai_tags: bool,
    pub overwrite_custom_metadata: bool,
    pub tags: Option<Vec<String>>,
    pub custom_metadata: Option<serde_json::Map<String, Value>>,
    /// Spec §9.3 step 4: the `defaultValue` of every live custom metadata field. Applied in the
    /// commit, after `custom_metadata` has been merged with the previous version's values
    /// (`overwriteCustomMetadata=false`), to every key still without a value — inside the
    /// transaction, so the merge sees the version it replaces.
    pub custom_metadata_defaults: serde_json::Map<String, Value>,
    pub custom_coordinates: Option<String>,
    pub is_private_file: bool,
    pub is_published: bool,
    pub description: Option<String>,
    pub size: u64,
    pub media: MediaInfo,
    pub max_versions: u32,
    /// What the commit writes to the outbox with its rows (events, extension jobs).
    pub outbox: Outbox,
}

/// One version of a file as the catalog holds it.
#[derive(Debug, Clone)]
pub struct StoredVersion {
    pub file_id: String,
    pub version_id: String,
    pub version_number: u32,
    pub name: String,
    pub file_path: String,
    pub blob_key: String,
    pub size: u64,
    pub tags: Option<Vec<String>>,
    pub ai_tags: Option<Value>,
    pub custom_metadata: serde_json::Map<String, Value>,
    pub custom_coordinates: Option<String>,
    pub is_private_file: bool,
    pub is_published: bool,
    pub description: Option<String>,
    pub media: MediaInfo,
    /// When this version was created.
    pub created_at_ms: i64,
    /// Whether this is the file's current version (`type` `file` rather than `file-version`).
    pub is_current: bool,
    /// When the file was first uploaded (its first version, whichever versions remain).
    pub file_created_at_ms: i64,
    /// When the file last changed (a new version, a restore, a move, an edit of its current
    /// version).
    pub file_updated_at_ms: i64,
    /// When this version's attributes last changed; its creation time if they never did.
    pub updated_at_ms: i64,
}

/// Which versions of a file an edit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditScope {
    Current,
    /// Every version, the current one included (`publish` with `includeFileVersions`).
    AllVersions,
}

/// Per-key problems an edit found (the `errors` object of a validation error).
pub type EditErrors = std::collections::BTreeMap<String, String>;

/// A change to a version's attributes, decided above the backends (media layer): it gets the
/// version as stored, inside the transaction that holds the file, and may refuse. The backend
/// writes back `tags`, `ai_tags`, `custom_metadata`, `custom_coordinates`, `description` and
/// `is_published`; nothing else it changes is stored.
pub type VersionEdit<'a> = &'a (dyn Fn(&mut StoredVersion) -> Result<(), EditErrors> + Send + Sync);

/// The outcome of [`Catalog::edit_versions`].
#[derive(Debug)]
pub enum EditOutcome {
    /// The current versions after the edit, in the order of the ids asked for.
    Done(Vec<StoredVersion>),
    /// These ids name no file of the account; nothing was changed.
    Missing(Vec<String>),
    /// The edit refused a version; nothing was changed.
    Invalid(EditErrors),
}

/// A version whose rows are gone: its blob and renditions can go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedVersion {
    pub version_id: String,
    pub blob_key: String,
}

/// The outcome of [`Catalog::delete_files`].
#[derive(Debug)]
pub enum DeleteOutcome {
    /// Every version of every file, now without rows.
    Deleted(Vec<RemovedVersion>),
    /// These ids name no file of the account; nothing was deleted.
    Missing(Vec<String>),
}

/// The outcome of [`Catalog::delete_version`].
#[derive(Debug)]
pub enum VersionDelete {
    NoFile,
    NoVersion,
    /// The version is the file's current one and stays.
    Current,
    Deleted(RemovedVersion),
}

/// The outcome of [`Catalog::restore_version`].
#[derive(Debug)]
pub enum RestoreOutcome {
    NoFile,
    NoVersion,
    /// The file's current version after the restore (the restored one).
    Restored(Box<StoredVersion>),
}

/// A destination folder: canonical path and its ancestors from the top (created if missing).
#[derive(Debug, Clone)]
pub struct FolderTarget {
    pub path: String,
    pub ancestors: Vec<String>,
}

/// One version made by a copy: a fresh id and blob (already copied in the blob store), the
/// attributes of `source`.
#[derive(Debug, Clone)]
pub struct CopiedVersion {
    pub version_id: String,
    pub blob_key: String,
    pub source: StoredVersion,
}

/// A copy of a file into a folder (media-api §2 copy).
#[derive(Debug, Clone)]
pub struct NewCopy {
    pub account_id: String,
    pub folder: FolderTarget,
    pub name: String,
    /// Oldest first; the last one becomes the current version.
    pub versions: Vec<CopiedVersion>,
    pub max_versions: u32,
}

/// The outcome of [`Catalog::insert_copy`].
#[derive(Debug)]
pub enum CopyOutcome {
    /// The destination file's current version (the copy).
    Copied(Box<StoredVersion>),
    /// The destination file would have more than `max_versions` versions; nothing was written.
    TooManyVersions,
}

/// The outcome of [`Catalog::move_file`].
#[derive(Debug, PartialEq, Eq)]
pub enum MoveOutcome {
    NotFound,
    /// The file is at the destination (its own row moved, or its versions appended to the
    /// file already there).
    Moved,
    TooManyVersions,
}

/// The outcome of [`Catalog::rename_file`].
#[derive(Debug)]
pub enum RenameOutcome {
    NotFound,
    /// Another file holds the new path.
    Exists,
    Renamed(Box<StoredVersion>),
}

impl NewUpload {
    /// The `attempt`-th unique-suffixed name to try (from 0).
    pub fn unique_candidate(&self, attempt: usize) -> String {
        match (&self.proposed_name, attempt) {
            (Some(name), 0) => name.clone(),
            _ => folio_contract::unique_name(&self.base_name, &mut rand::rng()),
        }
    }
}

/// What a background job does (media-api §2): the three folder bulk jobs, and cache purge
/// requests, which share their table, runner and leases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    CopyFolder,
    MoveFolder,
    RenameFolder,
    Purge,
}

impl JobKind {
    /// The name stored in the catalog, and the `type` of the job status API.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::CopyFolder => "COPY_FOLDER",
            JobKind::MoveFolder => "MOVE_FOLDER",
            JobKind::RenameFolder => "RENAME_FOLDER",
            JobKind::Purge => "PURGE",
        }
    }

    pub fn parse(s: &str) -> Option<JobKind> {
        [
            JobKind::CopyFolder,
            JobKind::MoveFolder,
            JobKind::RenameFolder,
            JobKind::Purge,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A background job as the catalog holds it. What it does (`params`) is fixed when it is
/// submitted; `cursor` is its progress, saved after each batch by the instance holding its
/// lease.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub job_id: String,
    pub account_id: String,
    pub kind: JobKind,
    pub completed: bool,
    pub params: Value,
    pub cursor: Option<String>,
    /// A rename with `purgeCache`: the purge job it created.
    pub purge_request_id: Option<String>,
    /// Not claimed while this job is pending (the purge of a rename waits for the rename).
    pub depends_on: Option<String>,
    /// How many times the job was claimed (more than once: an instance died holding it).
    pub attempts: i64,
    pub created_at_ms: i64,
}

/// A file found under a path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    pub file_id: String,
    pub file_path: String,
}

/// A folder as the list API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFolder {
    pub folder_id: String,
    /// Canonical path, `/a/b/`.
    pub path: String,
    pub name: String,
    pub created_at_ms: i64,
}

/// One item of a list result (spec §8.9): a version (current or not, see
/// [`StoredVersion::is_current`]) or a folder.
#[derive(Debug, Clone)]
pub enum ListedItem {
    File(Box<StoredVersion>),
    Folder(StoredFolder),
}

/// A custom metadata field (spec §9.1) as the catalog holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomField {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub label: String,
    pub description: Option<String>,
    /// The canonical `schema` object the API returns (validated before it gets here).
    pub schema: Value,
    pub deleted: bool,
    pub created_at_ms: i64,
}

/// The outcome of a write to a custom metadata field; the refusals are expected outcomes.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldWrite {
    Done(CustomField),
    /// Another field (deleted ones included) has the name.
    NameTaken,
    /// Another live field has the label.
    LabelTaken,
    NotFound,
    /// The field exists but is deleted.
    Deleted,
}

/// What an outbox row asks for (webhooks.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryKind {
    /// An account event, fanned out to every subscribed endpoint when written.
    Event,
    /// A POST of an extension's outcome to the upload's `webhookUrl` (spec §3.9).
    Callback,
    /// A call to an extension's runner.
    Extension,
}

impl DeliveryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryKind::Event => "event",
            DeliveryKind::Callback => "callback",
            DeliveryKind::Extension => "extension",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryKind> {
        [
            DeliveryKind::Event,
            DeliveryKind::Callback,
            DeliveryKind::Extension,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One row for the outbox, rendered above the backends ([`Outbox`]); a backend writes it in
/// the transaction of the change it reports.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    /// `webhook-id`: the same on every attempt and for every endpoint.
    pub message_id: String,
    pub account_id: String,
    pub kind: DeliveryKind,
    pub event_type: String,
    /// A callback's URL, an extension's name.
    pub target: Option<String>,
    /// A callback's signing key pair (its public key).
    pub key_id: Option<String>,
    pub body: String,
    pub created_at_ms: i64,
}

/// Where an account's events go (webhooks.md §3).
#[derive(Clone, PartialEq)]
pub struct WebhookEndpoint {
    pub id: String,
    pub account_id: String,
    pub url: String,
    /// The event types it receives; empty: every one.
    pub events: Vec<String>,
    /// The signing secret as the operator sees it (its UTF-8 bytes are the HMAC key).
    pub secret: String,
    /// After a rotation, the old secret signs too until `previous_secret_until_ms`.
    pub previous_secret: Option<String>,
    pub previous_secret_until_ms: Option<i64>,
    /// Declared in the config file (kept in step with it when the server starts).
    pub from_config: bool,
    /// Set when the endpoint answered `410 Gone`.
    pub disabled_at_ms: Option<i64>,
    pub disabled_reason: Option<String>,
    pub created_at_ms: i64,
}

impl std::fmt::Debug for WebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No secret in logs.
        f.debug_struct("WebhookEndpoint")
            .field("id", &self.id)
            .field("account_id", &self.account_id)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("disabled_at_ms", &self.disabled_at_ms)
            .finish_non_exhaustive()
    }
}

/// A due outbox row a worker has claimed: nobody else attempts it until `lease_until_ms`.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub row: OutboxRow,
    /// An event's endpoint.
    pub endpoint_id: Option<String>,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

/// What became of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    /// Try again at this time (Unix ms).
    Retry(i64),
    /// Given up.
    Failed,
    /// The endpoint answered `410 Gone`: the row fails and the endpoint is disabled.
    EndpointGone,
}

/// The outcome of one claimed row, written back by [`Catalog::finish_deliveries`].
#[derive(Debug, Clone)]
pub struct DeliveryReport {
    pub id: i64,
    pub outcome: DeliveryOutcome,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub at_ms: i64,
}

/// A row of the delivery log (`folio webhooks deliveries`).
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    pub id: i64,
    pub message_id: String,
    pub kind: DeliveryKind,
    pub event_type: String,
    pub endpoint_id: Option<String>,
    pub target: Option<String>,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at_ms: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
}

#[derive(Debug)]
pub enum CommitOutcome {
    Committed(Box<StoredVersion>),
    /// A current file holds the path and the request said `overwriteFile=false`.
    PathTaken,
    /// The file already has the maximum number of versions.
    TooManyVersions,
}

/// Context on an error from the final `COMMIT` of an upload: the database may have applied
/// the transaction before the error reached us, so the blob must not be deleted on the spot
/// (the sweeper removes it later if no row points at it).
#[derive(Debug, thiserror::Error)]
#[error("the outcome of the commit is unknown")]
pub struct CommitOutcomeUnknown;

#[async_trait]
pub trait Catalog: Send + Sync + 'static {
    /// Creates an account with one key pair when the catalog has no account yet; returns that
    /// pair so that it can be shown once.
    async fn bootstrap(&self) -> anyhow::Result<Option<ApiKey>>;

    /// A new key pair for the account (the first one without `account_id`), working until
    /// `expires_at` (Unix seconds) if given.
    async fn create_key(
        &self,
        account_id: Option<&str>,
        expires_at: Option<i64>,
    ) -> anyhow::Result<ApiKey>;
    /// A new account with `url_id` (checked by `crate::accounts`) and its first key pair;
    /// `None` when another account has that URL id.
    async fn create_account(&self, url_id: &str) -> anyhow::Result<Option<(Account, ApiKey)>>;
    /// Every account, oldest first.
    async fn list_accounts(&self) -> anyhow::Result<Vec<Account>>;
    /// Disables or enables the account with `url_id`; false when there is none.
    async fn set_account_disabled(&self, url_id: &str, disabled: bool) -> anyhow::Result<bool>;
    /// Adds a given key pair to the default account (keys moved from another installation).
    async fn import_key(&self, public_key: &str, private_key: &str) -> anyhow::Result<ApiKey>;
    async fn list_keys(&self) -> anyhow::Result<Vec<ApiKey>>;
    /// The key pairs of one account, revoked and expired ones included, oldest first.
    async fn account_keys(&self, account_id: &str) -> anyhow::Result<Vec<ApiKey>>;
    /// Revokes a key by its public part; false when no such live key exists.
    async fn revoke_key(&self, public_key: &str) -> anyhow::Result<bool>;

    async fn key_by_private(&self, private_key: &str) -> anyhow::Result<Option<KeyWithAccount>>;
    async fn key_by_public(&self, public_key: &str) -> anyhow::Result<Option<KeyWithAccount>>;
    async fn account_by_url_id(&self, url_id: &str) -> anyhow::Result<Option<Account>>;
    async fn account_by_id(&self, id: &str) -> anyhow::Result<Option<Account>>;

    /// Records a token as used: one atomic insert-if-absent. `Ok(false)` means it was used
    /// before.
    async fn burn_token(
        &self,
        account_id: &str,
        token_hash: &[u8; 32],
        expires_at: i64,
    ) -> anyhow::Result<bool>;
    /// Drops ledger entries whose token has expired (they would fail the time checks anyway).
    async fn purge_burned_tokens(&self, now: i64) -> anyhow::Result<u64>;

    /// Resolves the final path and writes the file and version rows in one transaction.
    async fn commit_upload(&self, upload: &NewUpload) -> anyhow::Result<CommitOutcome>;

    /// Replaces the `AITags` of one version (a JSON array, or `Null` for none); `false` when
    /// there is no such version. Used by extensions that finish after the upload.
    async fn set_ai_tags(&self, version_id: &str, ai_tags: &Value) -> anyhow::Result<bool>;

    /// The current version of the file at `file_path`.
    async fn current_by_path(
        &self,
        account_id: &str,
        file_path: &str,
    ) -> anyhow::Result<Option<StoredVersion>>;

    /// Inserts a new custom metadata field: `Done`, `NameTaken` or `LabelTaken`.
    async fn create_custom_field(&self, field: &CustomField) -> anyhow::Result<FieldWrite>;
    /// The account's fields in creation order, deleted ones only if asked for.
    async fn custom_fields(
        &self,
        account_id: &str,
        include_deleted: bool,
    ) -> anyhow::Result<Vec<CustomField>>;
    /// One field by id, deleted or not.
    async fn custom_field(&self, account_id: &str, id: &str)
        -> anyhow::Result<Option<CustomField>>;
    /// Replaces the label and/or the schema of a live field: `Done`, `NotFound`, `Deleted` or
    /// `LabelTaken`.
    async fn update_custom_field(
        &self,
        account_id: &str,
        id: &str,
        label: Option<&str>,
        schema: Option<&Value>,
    ) -> anyhow::Result<FieldWrite>;
    /// Marks a live field deleted (its name stays reserved); false when there is none.
    async fn delete_custom_field(&self, account_id: &str, id: &str) -> anyhow::Result<bool>;

    /// One page of the account's files, versions and folders matching `query` (spec §8.9),
    /// filtered, sorted and paged by the database ([`listing::compile`]).
    async fn list_files(
        &self,
        account_id: &str,
        query: &listing::ListQuery,
    ) -> anyhow::Result<Vec<ListedItem>>;

    // Folders and background jobs (media-api §2 folder API, bulk jobs, purge). The domain
    // rules (what a copy or move of a folder is, batching, blob order) live in `crate::jobs`.

    /// Creates the folder `target.path` and its missing ancestors (insert-if-absent).
    async fn create_folder(&self, account_id: &str, target: &FolderTarget) -> anyhow::Result<()>;
    /// Up to `limit` files whose path starts with `prefix`, in bytewise path order, after the
    /// path `after` (a keyset cursor). One indexed range scan per call.
    async fn files_under(
        &self,
        account_id: &str,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> anyhow::Result<Vec<FileRef>>;
    /// The folder rows at or under the folder `prefix` (`/a/b/`), in bytewise path order.
    async fn folders_under(&self, account_id: &str, prefix: &str) -> anyhow::Result<Vec<String>>;
    /// Deletes the folder rows at or under the folder `prefix` that no file is under; returns
    /// how many went. A folder that still holds a file (one an upload just made) stays.
    async fn delete_empty_folders(&self, account_id: &str, prefix: &str) -> anyhow::Result<u64>;

    /// Records new jobs (pending, no lease), all or none.
    async fn insert_jobs(&self, jobs: &[Job]) -> anyhow::Result<()>;
    /// One job of the account, pending or completed.
    async fn job(&self, account_id: &str, job_id: &str) -> anyhow::Result<Option<Job>>;
    /// Takes the oldest pending job whose lease is free or ran out and whose `depends_on` is
    /// not pending: `owner` holds it until
    /// `now_ms + lease_ms`. Instances claiming at once get different jobs.
    async fn claim_job(
        &self,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> anyhow::Result<Option<Job>>;
    /// Saves a job's progress and extends its lease to `lease_until_ms`, only while `owner`
    /// still holds it; `false` means the lease was lost (another instance took the job over).
    async fn checkpoint_job(
        &self,
        job_id: &str,
        owner: &str,
        cursor: Option<&str>,
        lease_until_ms: i64,
    ) -> anyhow::Result<bool>;
    /// Marks a job Completed, only while `owner` holds it.
    async fn complete_job(&self, job_id: &str, owner: &str, now_ms: i64) -> anyhow::Result<bool>;
    /// Gives up every lease `owner` holds (a clean shutdown), so another runner can resume
    /// the jobs at once.
    async fn release_jobs(&self, owner: &str) -> anyhow::Result<u64>;

    /// Whether any version row points at this blob.
    async fn blob_is_referenced(&self, blob_key: &str) -> anyhow::Result<bool>;
    /// Whether a version row with this id exists (its renditions, `d/<version id>/…`, are
    /// referenced by it).
    async fn version_exists(&self, version_id: &str) -> anyhow::Result<bool>;

    // The media management API (media-api §2). Every lookup is scoped to the account; an id
    // of another account is unknown. Writes lock the files they touch (PostgreSQL row locks,
    // SQLite's single writer), so they serialise with uploads to the same path.

    /// The current version of the file `file_id`.
    async fn file_by_id(
        &self,
        account_id: &str,
        file_id: &str,
    ) -> anyhow::Result<Option<StoredVersion>>;
    /// Every version of a file, newest (highest number) first; `None` when there is no file.
    async fn file_versions(
        &self,
        account_id: &str,
        file_id: &str,
    ) -> anyhow::Result<Option<Vec<StoredVersion>>>;
    /// One version of a file.
    async fn version_by_id(
        &self,
        account_id: &str,
        file_id: &str,
        version_id: &str,
    ) -> anyhow::Result<Option<StoredVersion>>;
    /// A folder by its canonical path (`/a/b/`).
    async fn folder_by_path(
        &self,
        account_id: &str,
        path: &str,
    ) -> anyhow::Result<Option<StoredFolder>>;

    /// Applies `edit` to the versions in `scope` of every file in `file_ids`, all or nothing,
    /// in one transaction.
    async fn edit_versions(
        &self,
        account_id: &str,
        file_ids: &[String],
        scope: EditScope,
        edit: VersionEdit<'_>,
        outbox: &Outbox,
    ) -> anyhow::Result<EditOutcome>;
    /// Removes the rows of the files and all their versions, all or nothing, in one
    /// transaction. The caller removes the blobs afterwards.
    async fn delete_files(
        &self,
        account_id: &str,
        file_ids: &[String],
        outbox: &Outbox,
    ) -> anyhow::Result<DeleteOutcome>;
    /// Removes a non-current version's row.
    async fn delete_version(
        &self,
        account_id: &str,
        file_id: &str,
        version_id: &str,
        outbox: &Outbox,
    ) -> anyhow::Result<VersionDelete>;
    /// Makes a version the file's current one again (it keeps its id and number).
    async fn restore_version(
        &self,
        account_id: &str,
        file_id: &str,
        version_id: &str,
        outbox: &Outbox,
    ) -> anyhow::Result<RestoreOutcome>;
    /// Writes the rows of a copy whose blobs exist: a new file at `folder + name`, or new
    /// versions of the file already there.
    async fn insert_copy(&self, copy: &NewCopy, outbox: &Outbox) -> anyhow::Result<CopyOutcome>;
    /// Moves the file at `source_path` into `folder` (same name). When a file already holds
    /// the destination path, the source's versions are appended to it (oldest first, the
    /// source's current version last, so it becomes current) and the source file is gone.
    async fn move_file(
        &self,
        account_id: &str,
        source_path: &str,
        folder: &FolderTarget,
        max_versions: u32,
        outbox: &Outbox,
    ) -> anyhow::Result<MoveOutcome>;
    /// Gives the file at `file_path` a new (sanitised) name in its folder.
    async fn rename_file(
        &self,
        account_id: &str,
        file_path: &str,
        new_name: &str,
        outbox: &Outbox,
    ) -> anyhow::Result<RenameOutcome>;

    // Webhooks (webhooks.md): endpoints and the outbox.

    async fn add_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> anyhow::Result<()>;
    /// Every endpoint of every account, oldest first.
    async fn webhook_endpoints(&self) -> anyhow::Result<Vec<WebhookEndpoint>>;
    /// Removes an endpoint and the deliveries still pending for it.
    async fn remove_webhook_endpoint(&self, id: &str) -> anyhow::Result<bool>;
    /// Gives an endpoint a new secret; the current one keeps signing until `previous_until_ms`.
    async fn rotate_webhook_secret(
        &self,
        id: &str,
        secret: &str,
        previous_until_ms: i64,
    ) -> anyhow::Result<bool>;
    /// Makes the endpoints declared in the config file exactly `endpoints` (by id), leaving
    /// the others alone.
    async fn sync_config_endpoints(&self, endpoints: &[WebhookEndpoint]) -> anyhow::Result<()>;
    /// Writes outbox rows outside any other change (an extension's callback).
    async fn enqueue(&self, rows: &[OutboxRow]) -> anyhow::Result<()>;
    /// Claims at most `limit` due rows, oldest due first, until `now_ms + lease_ms`. Rows
    /// another instance is claiming at the same time are passed over.
    async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> anyhow::Result<Vec<ClaimedDelivery>>;
    /// Records the outcomes of claimed rows, in one transaction.
    async fn finish_deliveries(&self, reports: &[DeliveryReport]) -> anyhow::Result<()>;
    /// The newest `limit` rows of the delivery log (only failed ones with `failed_only`).
    async fn deliveries(
        &self,
        failed_only: bool,
        limit: u32,
    ) -> anyhow::Result<Vec<DeliveryRecord>>;
    /// Removes finished rows older than `before_ms`; how many.
    async fn purge_deliveries(&self, before_ms: i64) -> anyhow::Result<u64>;
    /// Rows still to be delivered (pending, due or not), of every instance.
    async fn pending_deliveries(&self) -> anyhow::Result<u64>;

    // Fairness: counts only; the rules are `crate::fairness`'s.
    /// Counts one more request of `scope` in the window that starts at `window_start` (Unix
    /// seconds), for every instance of this catalog; the count, this one included.
    async fn hit(&self, scope: &str, window_start: i64) -> anyhow::Result<u64>;
    /// Forgets the windows that started before `before`.
    async fn purge_hits(&self, before: i64) -> anyhow::Result<u64>;
    /// An account's files, and the bytes of all their versions.
    async fn usage(&self, account_id: &str) -> anyhow::Result<Usage>;
    /// Up to `limit` versions of every account whose id sorts after `after`, in id order, with
    /// their blob and its size (`folio fsck` walks the catalog with it).
    async fn versions_after(&self, after: &str, limit: u32) -> anyhow::Result<Vec<VersionBlob>>;
    /// Up to `limit` files of every account whose id sorts after `after`, in id order, with how
    /// their versions are numbered (`folio fsck`).
    async fn file_sequences_after(
        &self,
        after: &str,
        limit: u32,
    ) -> anyhow::Result<Vec<FileSequence>>;
    /// Raises a file's `last_version_number` to `to` (never lowers it); whether it changed.
    async fn raise_last_version_number(&self, file_id: &str, to: i64) -> anyhow::Result<bool>;

    // Console sign-ins: storage only, the rules are `crate::console`'s.
    async fn create_console_session(&self, session: &ConsoleSession) -> anyhow::Result<()>;
    async fn console_session(&self, id_hash: &[u8]) -> anyhow::Result<Option<ConsoleSession>>;
    /// Deletes a sign-in and returns it (a logout, a link used): of two callers racing, one
    /// gets it.
    async fn take_console_session(&self, id_hash: &[u8]) -> anyhow::Result<Option<ConsoleSession>>;
    /// Deletes sign-ins that expired before `now` (Unix seconds).
    async fn purge_console_sessions(&self, now: i64) -> anyhow::Result<u64>;

    // Resumable uploads (resumable.md): storage only, the rules are `crate::resumable`'s.
    /// Records a new upload unless its key pair would pass `caps`; `false` when it would.
    async fn create_resumable(
        &self,
        upload: &ResumableUpload,
        caps: IncompleteCaps,
    ) -> anyhow::Result<bool>;
    /// The upload whose capability hashes to `id_hash`.
    async fn resumable(&self, id_hash: &[u8]) -> anyhow::Result<Option<ResumableUpload>>;
    /// The upload a token created (a creation retried with the same token).
    async fn resumable_by_ledger(
        &self,
        ledger_key: &[u8],
    ) -> anyhow::Result<Option<ResumableUpload>>;
    /// Takes a receiving upload for one PATCH, unless another live lease holds it.
    async fn lease_resumable(
        &self,
        id_hash: &[u8],
        lease: &Lease,
        now_ms: i64,
    ) -> anyhow::Result<bool>;
    /// Records durable progress and extends the lease; `false` when the lease was lost.
    async fn advance_resumable(
        &self,
        id_hash: &[u8],
        lease: &Lease,
        offset: u64,
        storage: &str,
    ) -> anyhow::Result<bool>;
    async fn release_resumable(&self, id_hash: &[u8], lease: &Lease) -> anyhow::Result<()>;
    /// Ends an upload with the response its last request gave.
    async fn end_resumable(
        &self,
        id_hash: &[u8],
        state: ResumableState,
        result: (u16, &str),
        offset: u64,
    ) -> anyhow::Result<()>;
    async fn delete_resumable(&self, id_hash: &[u8]) -> anyhow::Result<bool>;
    /// Uploads whose `expires_at` is at or before `now`, oldest first.
    async fn expired_resumables(
        &self,
        now: i64,
        limit: u32,
    ) -> anyhow::Result<Vec<ResumableUpload>>;

    /// A cheap round trip to the database (health checks).
    async fn ping(&self) -> anyhow::Result<()>;
}

pub type DynCatalog = Arc<dyn Catalog>;

/// The file ids of a bulk request without repeats, in their first order: an id named twice is
/// one file.
fn unique_ids(ids: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    ids.iter()
        .filter(|id| seen.insert(id.as_str()))
        .cloned()
        .collect()
}

/// Opens the catalog named by `config.catalog_url()` (`sqlite://…` or `postgres://…`) and,
/// unless `migrate` says otherwise, brings its schema up to date.
pub async fn open_catalog(
    config: &crate::config::Config,
    migrate: postgres::Migrate,
) -> anyhow::Result<DynCatalog> {
    let url = config.catalog_url();
    if url.starts_with("sqlite:") {
        // The embedded catalog has one user, this process: it always migrates itself.
        Ok(Arc::new(
            sqlite::SqliteCatalog::open(&url, config.storage.fsync).await?,
        ))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(
            postgres::PgCatalog::open(&url, &config.postgres, migrate).await?,
        ))
    } else {
        anyhow::bail!(
            "unsupported catalog URL (expected sqlite://… or postgres://…): {}",
            redact_url(&url)
        )
    }
}

/// A URL fit for a log line or an error message: any password replaced.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            if userinfo.contains(':') {
                format!("{scheme}://{user}:***@{host}{tail}")
            } else {
                format!("{scheme}://{user}@{host}{tail}")
            }
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_reach_messages() {
        use super::redact_url;
        assert_eq!(
            redact_url("postgres://folio:s3cret@db:5432/folio?sslmode=require"),
            "postgres://folio:***@db:5432/folio?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://folio@db/folio"),
            "postgres://folio@db/folio"
        );
        assert_eq!(redact_url("sqlite:///a/b.db"), "sqlite:///a/b.db");
    }
}
