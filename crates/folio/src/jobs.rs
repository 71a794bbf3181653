//! Folders and background jobs (media-api §2): deleting a folder, the folder bulk jobs (copy,
//! move, rename) and cache purges. The domain rules live here, once, above the catalog
//! backends, which keep the SQL, the locking and the leases.
//!
//! **Jobs are rows** (`jobs`, migration 0005), so they survive restarts. Every instance runs
//! one [`spawn`]ed runner that claims the oldest pending job (PostgreSQL: `FOR UPDATE SKIP
//! LOCKED`, so instances claiming at once take different jobs) together with a lease of
//! `storage.job_lease_secs`. It works in batches, and after each batch saves its progress (the
//! last source path done) and renews the lease — only while it still holds it. An instance that
//! dies stops renewing; once its lease has run out any instance claims the job and resumes from
//! the saved cursor. A runner that finds its lease gone (it stalled, and another instance took
//! over) stops at once.
//!
//! **Resuming never duplicates.** A batch done but not yet checkpointed is done again:
//!
//! * a move moves each file out of the source folder, so a file moved before the crash is not
//!   found again;
//! * a copy names each copied version after the job and the source version
//!   ([`copy_version_id`]), so a file copied before the crash is recognised
//!   (`version_exists`) and skipped, and two runners racing on one job cannot both commit it
//!   (the version id is the primary key). Its blob key follows from that id, so a repeated blob
//!   copy writes the same bytes to the same key; a blob whose rows never committed is left to
//!   the sweeper (it is never deleted here: another runner's row may point at it).
//!
//! **Blob order.** Copies write blobs first, then the rows that point at them; deletions remove
//! rows first, then blobs. Whatever the crash, no row points at a missing blob; what is left
//! is unreferenced blobs, which the sweeper removes after its grace period.

use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use crate::error::AppError;
use crate::ids;
use crate::media::service::{remove_blobs, MAX_VERSIONS};
use crate::state::AppState;
use crate::store::blob::{blob_key, renditions_dir};
use crate::store::{
    CopiedVersion, CopyOutcome, DeleteOutcome, FolderTarget, Job, JobKind, MoveOutcome, NewCopy,
    Outbox,
};

/// Files per catalog transaction when a folder is deleted (short transactions: uploads wait
/// for at most one of them).
pub const DELETE_BATCH: u32 = 500;
/// Files per batch of a move (each file is its own short transaction).
const MOVE_BATCH: u32 = 500;
/// Files per batch of a copy (each file costs blob copies, so batches are smaller).
const COPY_BATCH: u32 = 100;
/// Files per batch of a purge.
const PURGE_BATCH: u32 = 500;
/// Progress is saved (and the lease renewed) at least this often inside a batch.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(5);
/// How long an idle runner sleeps before looking for jobs again (a job submitted to this
/// instance wakes it at once; one submitted elsewhere is found within this).
const IDLE_POLL: Duration = Duration::from_secs(1);

/// This instance's runner: its owner id (the lease holder's name) and the bell that wakes it.
pub struct Jobs {
    owner: String,
    wake: Notify,
}

impl Default for Jobs {
    fn default() -> Self {
        Jobs {
            // Unique per process: a restarted instance never mistakes its old leases for its own.
            owner: format!("runner-{}", ids::object_id()),
            wake: Notify::new(),
        }
    }
}

impl Jobs {
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Wakes the runner (a job was submitted here).
    pub fn notify(&self) {
        self.wake.notify_one();
    }
}

/// A folder path from a request (`/a/b`, `a/b/`, `/`) in canonical form, or the parameter's
/// invalid error.
pub fn folder_path(raw: &str, field: &'static str) -> Result<folio_contract::Folder, AppError> {
    folio_contract::Folder::parse(raw)
        .map_err(|_| AppError::Param(folio_contract::ParamError::Invalid(field)))
}

fn target(folder: &folio_contract::Folder) -> FolderTarget {
    FolderTarget {
        path: folder.path(),
        ancestors: folder.ancestors().map(|f| f.path()).collect(),
    }
}

/// The canonical folder path `path` (`/a/b/`) as a [`FolderTarget`]. Every path this module
/// builds is made of sanitised segments, so it parses back to itself.
fn target_of(path: &str) -> anyhow::Result<FolderTarget> {
    let folder = folio_contract::Folder::parse(path)
        .map_err(|e| anyhow::anyhow!("folder path {path}: {}", e.message()))?;
    Ok(target(&folder))
}

/// A single folder name (`POST /v1/folder` `folderName`, `newFolderName`): sanitised like a
/// segment of an upload's `folder` (a `/` in it is a character like any other, so it becomes
/// `_`).
pub fn folder_name(raw: &str, field: &'static str) -> Result<String, AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(AppError::Param(folio_contract::ParamError::Missing(field)));
    }
    let folder = folio_contract::Folder::parse(&raw.replace('/', "_"))
        .map_err(|_| AppError::Param(folio_contract::ParamError::Invalid(field)))?;
    match folder.segments() {
        [one] => Ok(one.clone()),
        _ => Err(AppError::Param(folio_contract::ParamError::Invalid(field))),
    }
}

/// Whether the folder `path` exists: a folder row, or a file under it.
async fn folder_exists(state: &AppState, account_id: &str, path: &str) -> anyhow::Result<bool> {
    if state
        .catalog
        .folder_by_path(account_id, path)
        .await?
        .is_some()
    {
        return Ok(true);
    }
    Ok(!state
        .catalog
        .files_under(account_id, path, None, 1)
        .await?
        .is_empty())
}

/// `POST /v1/folder`: creates `parent/name` and any missing parent.
pub async fn create_folder(
    state: &AppState,
    account_id: &str,
    parent: &str,
    name: &str,
) -> Result<(), AppError> {
    let parent = folder_path(parent, "parentFolderPath")?;
    let name = folder_name(name, "folderName")?;
    let folder = folder_path(&format!("{}{name}", parent.path()), "folderName")?;
    state
        .catalog
        .create_folder(account_id, &target(&folder))
        .await
        .map_err(AppError::internal)
}

/// `DELETE /v1/folder`: deletes every file (all versions) under the folder, its sub-folders
/// and the folder, in batches of [`DELETE_BATCH`] files: one short catalog transaction each,
/// then that batch's blobs and renditions. Runs in a task of its own, so a client that hangs
/// up does not stop it half-way (a crash may; the request can then be repeated).
pub async fn delete_folder(
    state: &AppState,
    account_id: &str,
    raw: &str,
    outbox: Outbox,
) -> Result<(), AppError> {
    let folder = folder_path(raw, "folderPath")?;
    if folder.is_root() {
        // The whole library is not a folder one deletes by accident.
        return Err(AppError::Param(folio_contract::ParamError::Invalid(
            "folderPath",
        )));
    }
    let path = folder.path();
    if !folder_exists(state, account_id, &path)
        .await
        .map_err(AppError::internal)?
    {
        return Err(AppError::FolderNotFound(raw.to_owned()));
    }
    let task_state = state.clone();
    let account_id = account_id.to_owned();
    tokio::spawn(
        async move { delete_tree(&task_state, &account_id, &path, &outbox).await }
            .in_current_span(),
    )
    .await
    .map_err(AppError::internal)?
    .map(|_| ())
    .map_err(AppError::internal)
}

/// Deletes everything under the folder `path` in batches; returns how many files went.
pub async fn delete_tree(
    state: &AppState,
    account_id: &str,
    path: &str,
    outbox: &Outbox,
) -> anyhow::Result<usize> {
    let mut deleted = 0;
    loop {
        let batch = state
            .catalog
            .files_under(account_id, path, None, DELETE_BATCH)
            .await?;
        if batch.is_empty() {
            break;
        }
        let file_ids: Vec<String> = batch.into_iter().map(|f| f.file_id).collect();
        match state
            .catalog
            .delete_files(account_id, &file_ids, outbox)
            .await?
        {
            DeleteOutcome::Deleted(removed) => {
                state.webhook_bell.ring();
                deleted += file_ids.len();
                remove_blobs(state, &removed).await;
            }
            // Some went meanwhile (another delete): nothing was deleted; list again.
            DeleteOutcome::Missing(_) => continue,
        }
    }
    state.catalog.delete_empty_folders(account_id, path).await?;
    Ok(deleted)
}

/// What a folder bulk job was asked for, checked and resolved to two folder prefixes.
#[derive(Debug, Clone, PartialEq)]
pub struct FolderJob {
    pub kind: JobKind,
    /// `/a/b/`: the folder whose files go.
    pub from: String,
    /// `/c/b/`: where they end up (the folder's new path).
    pub to: String,
    pub include_versions: bool,
}

impl FolderJob {
    fn params(&self) -> Value {
        json!({"from": self.from, "to": self.to, "includeVersions": self.include_versions})
    }

    fn from_params(kind: JobKind, params: &Value) -> anyhow::Result<FolderJob> {
        let text = |key: &str| {
            params
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| anyhow::anyhow!("job params without {key}"))
        };
        Ok(FolderJob {
            kind,
            from: text("from")?,
            to: text("to")?,
            include_versions: params
                .get("includeVersions")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }
}

/// Checks a copy or move request: the source must exist, the folder must not land inside
/// itself. `raw_source` is quoted in the error as the client sent it.
pub async fn plan_copy_or_move(
    state: &AppState,
    account_id: &str,
    kind: JobKind,
    raw_source: &str,
    raw_destination: &str,
    include_versions: bool,
) -> Result<FolderJob, AppError> {
    let source = folder_path(raw_source, "sourceFolderPath")?;
    let destination = folder_path(raw_destination, "destinationPath")?;
    if source == destination {
        return Err(AppError::SameSourceAndDestination);
    }
    let Some(name) = source.name() else {
        // The root has no name to land under; it is no folder to copy or move.
        return Err(AppError::Param(folio_contract::ParamError::Invalid(
            "sourceFolderPath",
        )));
    };
    let to = folder_path(&format!("{}{name}", destination.path()), "destinationPath")?.path();
    let from = source.path();
    if to.starts_with(&from) && to != from {
        return Err(AppError::DestinationInsideSource);
    }
    if !folder_exists(state, account_id, &from)
        .await
        .map_err(AppError::internal)?
    {
        return Err(AppError::NoFilesAtSource(raw_source.to_owned()));
    }
    Ok(FolderJob {
        kind,
        from,
        to,
        include_versions,
    })
}

/// Checks a rename request: `/a/b/` with `c` moves to `/a/c/`.
pub async fn plan_rename(
    state: &AppState,
    account_id: &str,
    raw_path: &str,
    raw_name: &str,
) -> Result<FolderJob, AppError> {
    let source = folder_path(raw_path, "folderPath")?;
    let name = folder_name(raw_name, "newFolderName")?;
    let Some(parent) = source.parent() else {
        return Err(AppError::Param(folio_contract::ParamError::Invalid(
            "folderPath",
        )));
    };
    let to = folder_path(&format!("{}{name}", parent.path()), "newFolderName")?.path();
    let from = source.path();
    if !folder_exists(state, account_id, &from)
        .await
        .map_err(AppError::internal)?
    {
        return Err(AppError::FolderNotFound(raw_path.to_owned()));
    }
    Ok(FolderJob {
        kind: JobKind::RenameFolder,
        from,
        to,
        include_versions: false,
    })
}

fn new_job(account_id: &str, kind: JobKind, params: Value) -> Job {
    Job {
        job_id: ids::object_id(),
        account_id: account_id.to_owned(),
        kind,
        completed: false,
        params,
        cursor: None,
        purge_request_id: None,
        depends_on: None,
        attempts: 0,
        created_at_ms: ids::now_millis(),
    }
}

/// Records a folder job (and, for a rename with `purgeCache`, the purge that follows it) and
/// wakes this instance's runner. Returns the job.
pub async fn submit_folder_job(
    state: &AppState,
    account_id: &str,
    url_id: &str,
    plan: &FolderJob,
    purge_cache: bool,
) -> Result<Job, AppError> {
    let mut job = new_job(account_id, plan.kind, plan.params());
    let mut jobs = Vec::new();
    if purge_cache {
        // The renditions of the renamed files, which now live under the new path. The request
        // records the old URLs, which are what a CDN in front of Folio holds.
        let mut purge = new_job(
            account_id,
            JobKind::Purge,
            json!({
                "url": format!("{}{}*", state.url_endpoint(url_id), plan.from),
                "prefix": plan.to,
            }),
        );
        purge.depends_on = Some(job.job_id.clone());
        job.purge_request_id = Some(purge.job_id.clone());
        jobs.push(job.clone());
        jobs.push(purge);
    } else {
        jobs.push(job.clone());
    }
    state
        .catalog
        .insert_jobs(&jobs)
        .await
        .map_err(AppError::internal)?;
    state.jobs.notify();
    Ok(job)
}

/// What a purge `url` names: one file's path, or every path with a prefix (a trailing `*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurgeTarget {
    Path(String),
    Prefix(String),
}

/// Reads a purge `url` (media-api §2): it must start with the account's `url_endpoint`
/// followed by `/` (or end there); a trailing `*` makes it a prefix. A query is ignored, and
/// so is a leading `tr:` segment (a transformed URL purges the file's renditions). The path is
/// percent-decoded (delivery URLs encode their segments).
pub fn purge_target(url: &str, url_endpoint: &str) -> Result<PurgeTarget, AppError> {
    let outside = || AppError::PurgeUrlOutsideEndpoint(url_endpoint.to_owned());
    let rest = url.trim().strip_prefix(url_endpoint).ok_or_else(outside)?;
    let (rest, wildcard) = match rest.strip_suffix('*') {
        Some(rest) => (rest, true),
        None => (rest, false),
    };
    if !(rest.is_empty() || rest.starts_with('/')) {
        return Err(outside());
    }
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let rest = match rest.strip_prefix("/tr:") {
        Some(after) => after.find('/').map_or("", |i| &after[i..]),
        None => rest,
    };
    let decoded = percent_encoding::percent_decode_str(rest)
        .decode_utf8()
        .map_err(|_| AppError::Param(folio_contract::ParamError::Invalid("url")))?;
    let path = if decoded.starts_with('/') {
        decoded.into_owned()
    } else {
        format!("/{decoded}")
    };
    Ok(if wildcard {
        PurgeTarget::Prefix(path)
    } else {
        PurgeTarget::Path(path)
    })
}

/// Records a purge request and wakes the runner; returns its id.
pub async fn submit_purge(
    state: &AppState,
    account_id: &str,
    url: &str,
    target: &PurgeTarget,
) -> Result<String, AppError> {
    let params = match target {
        PurgeTarget::Path(path) => json!({"url": url, "path": path}),
        PurgeTarget::Prefix(prefix) => json!({"url": url, "prefix": prefix}),
    };
    let job = new_job(account_id, JobKind::Purge, params);
    state
        .catalog
        .insert_jobs(std::slice::from_ref(&job))
        .await
        .map_err(AppError::internal)?;
    state.jobs.notify();
    Ok(job.job_id)
}

/// The id a copy job gives the copy of `source_version_id`: the job's creation second (ids
/// sort by time) and 8 bytes of SHA-256 of the two ids. The same on every attempt of the job,
/// so an attempt can tell what an earlier one already committed.
pub fn copy_version_id(job: &Job, source_version_id: &str) -> String {
    let secs = (job.created_at_ms / 1000).clamp(0, i64::from(u32::MAX)) as u32;
    let digest = Sha256::digest(format!("{}:{source_version_id}", job.job_id).as_bytes());
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&secs.to_be_bytes());
    bytes[4..].copy_from_slice(&digest[..8]);
    hex::encode(bytes)
}

/// Runs jobs until the task is aborted: claims one, runs it, claims the next; sleeps when
/// there is none.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match run_next(&state).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = ?e, "a background job failed; it is retried once its lease runs out")
                }
            }
            tokio::select! {
                _ = state.jobs.wake.notified() => {}
                _ = tokio::time::sleep(IDLE_POLL) => {}
            }
        }
    }
    // Not a request's work: the runner's own span names its log lines.
    .instrument(tracing::info_span!("job_runner")))
}

fn lease_ms(state: &AppState) -> i64 {
    i64::try_from(state.config.storage.job_lease_secs.max(1))
        .unwrap_or(i64::MAX / 2)
        .saturating_mul(1000)
}

/// Claims and runs one job; `false` when there was none.
pub async fn run_next(state: &AppState) -> anyhow::Result<bool> {
    let Some(job) = state
        .catalog
        .claim_job(state.jobs.owner(), ids::now_millis(), lease_ms(state))
        .await?
    else {
        return Ok(false);
    };
    tracing::info!(job.id = %job.job_id, job.kind = job.kind.as_str(), job.attempts = job.attempts, "running a background job");
    // The job's changes are the account's events too (no request: the job runs on its own).
    let outbox = match state.catalog.account_by_id(&job.account_id).await? {
        Some(account) => {
            let ctx = crate::media::details::RenderContext::load(state, &account)
                .await
                .map_err(|e| anyhow::anyhow!("loading the account's render context: {e:?}"))?;
            Outbox::new(&account.id, std::sync::Arc::new(ctx), None)
        }
        None => Outbox::none(),
    };
    let mut run = Run {
        state,
        job: &job,
        cursor: job.cursor.clone(),
        saved: Instant::now(),
        outbox,
    };
    let finished = match job.kind {
        JobKind::CopyFolder | JobKind::MoveFolder | JobKind::RenameFolder => {
            let plan = FolderJob::from_params(job.kind, &job.params)?;
            run.folder_job(&plan).await?
        }
        JobKind::Purge => run.purge().await?,
    };
    if !finished {
        tracing::warn!(job.id = %job.job_id, "lost the lease of a job (another instance resumed it)");
        return Ok(true);
    }
    if !state
        .catalog
        .complete_job(&job.job_id, state.jobs.owner(), ids::now_millis())
        .await?
    {
        tracing::warn!(job.id = %job.job_id, "lost the lease of a job before completing it");
    }
    Ok(true)
}

/// One attempt at a job, holding its lease.
struct Run<'a> {
    state: &'a AppState,
    job: &'a Job,
    cursor: Option<String>,
    saved: Instant,
    outbox: Outbox,
}

impl Run<'_> {
    /// Saves the cursor and renews the lease; `false` when the lease is lost.
    async fn checkpoint(&mut self) -> anyhow::Result<bool> {
        let until = ids::now_millis().saturating_add(lease_ms(self.state));
        self.saved = Instant::now();
        self.state
            .catalog
            .checkpoint_job(
                &self.job.job_id,
                self.state.jobs.owner(),
                self.cursor.as_deref(),
                until,
            )
            .await
    }

    async fn checkpoint_if_due(&mut self) -> anyhow::Result<bool> {
        if self.saved.elapsed() >= CHECKPOINT_EVERY {
            self.checkpoint().await
        } else {
            Ok(true)
        }
    }

    /// Copy, move or rename: walks the source folder's files in path order from the cursor,
    /// then mirrors its folders (empty ones included) at the destination; a move or rename
    /// finally removes the source folders left empty. `false` when the lease was lost.
    async fn folder_job(&mut self, plan: &FolderJob) -> anyhow::Result<bool> {
        let account_id = &self.job.account_id;
        let batch_size = match plan.kind {
            JobKind::CopyFolder => COPY_BATCH,
            _ => MOVE_BATCH,
        };
        if plan.from != plan.to {
            loop {
                let batch = self
                    .state
                    .catalog
                    .files_under(account_id, &plan.from, self.cursor.as_deref(), batch_size)
                    .await?;
                if batch.is_empty() {
                    break;
                }
                for file in batch {
                    let rest = file.file_path.strip_prefix(&plan.from).unwrap_or_default();
                    let (sub, _name) = rest.rsplit_once('/').unwrap_or(("", rest));
                    let folder = if sub.is_empty() {
                        target_of(&plan.to)?
                    } else {
                        target_of(&format!("{}{sub}/", plan.to))?
                    };
                    match plan.kind {
                        JobKind::CopyFolder => {
                            self.copy_file(&file.file_id, folder, plan.include_versions)
                                .await?
                        }
                        _ => self.move_file(&file.file_path, &folder).await?,
                    }
                    self.cursor = Some(file.file_path);
                    if !self.checkpoint_if_due().await? {
                        return Ok(false);
                    }
                }
                if !self.checkpoint().await? {
                    return Ok(false);
                }
            }
        }
        // Folders, empty ones included, exist at the destination as at the source.
        for path in self
            .state
            .catalog
            .folders_under(account_id, &plan.from)
            .await?
        {
            let rest = path.strip_prefix(&plan.from).unwrap_or_default();
            self.state
                .catalog
                .create_folder(account_id, &target_of(&format!("{}{rest}", plan.to))?)
                .await?;
        }
        if plan.kind != JobKind::CopyFolder && plan.from != plan.to {
            self.state
                .catalog
                .delete_empty_folders(account_id, &plan.from)
                .await?;
        }
        Ok(true)
    }

    /// Copies one file (its current version, or every version oldest first) into `folder`,
    /// unless an earlier attempt of this job already did.
    async fn copy_file(
        &self,
        file_id: &str,
        folder: FolderTarget,
        include_versions: bool,
    ) -> anyhow::Result<()> {
        let account_id = &self.job.account_id;
        let Some(mut versions) = self
            .state
            .catalog
            .file_versions(account_id, file_id)
            .await?
        else {
            return Ok(()); // deleted meanwhile
        };
        if !include_versions {
            versions.retain(|v| v.is_current);
        }
        // Oldest first, the current version last (it becomes the copy's current version).
        versions.sort_by_key(|v| (v.is_current, v.version_number));
        let Some(current) = versions.last() else {
            return Ok(());
        };
        let name = current.name.clone();
        let last_id = copy_version_id(self.job, &current.version_id);
        if self.state.catalog.version_exists(&last_id).await? {
            return Ok(()); // copied by an earlier attempt (the copy commits all or nothing)
        }
        let mut copies = Vec::with_capacity(versions.len());
        for source in versions {
            let version_id = copy_version_id(self.job, &source.version_id);
            let key = blob_key(&version_id);
            // Inside the store (S3 CopyObject, a local copy): the bytes never pass through here.
            self.state.blobs.copy(&source.blob_key, &key).await?;
            copies.push(CopiedVersion {
                version_id,
                blob_key: key,
                source,
            });
        }
        let copy = NewCopy {
            account_id: account_id.clone(),
            folder,
            name,
            versions: copies,
            max_versions: MAX_VERSIONS,
        };
        match self.state.catalog.insert_copy(&copy, &self.outbox).await {
            Ok(CopyOutcome::Copied(_)) => {
                self.state.webhook_bell.ring();
                Ok(())
            }
            Ok(CopyOutcome::TooManyVersions) => {
                // The file at the destination is full; the rest of the folder is still copied.
                // The copied blobs are unreferenced and left to the sweeper.
                tracing::warn!(job.id = %self.job.job_id, file.id = %file_id, "not copied: the destination file has the maximum number of versions");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn move_file(&self, file_path: &str, folder: &FolderTarget) -> anyhow::Result<()> {
        match self
            .state
            .catalog
            .move_file(
                &self.job.account_id,
                file_path,
                folder,
                MAX_VERSIONS,
                &self.outbox,
            )
            .await?
        {
            MoveOutcome::Moved => {
                self.state.webhook_bell.ring();
                Ok(())
            }
            MoveOutcome::NotFound => Ok(()),
            MoveOutcome::TooManyVersions => {
                // It stays in the source folder (which therefore stays too).
                tracing::warn!(job.id = %self.job.job_id, file.path = %file_path, "not moved: the destination file has the maximum number of versions");
                Ok(())
            }
        }
    }

    /// Drops the cached renditions (`d/<version id>/…`) of every version of the files the
    /// purge names. `false` when the lease was lost.
    async fn purge(&mut self) -> anyhow::Result<bool> {
        let account_id = self.job.account_id.clone();
        let params = &self.job.params;
        if let Some(path) = params.get("path").and_then(Value::as_str) {
            if let Some(file) = self
                .state
                .catalog
                .current_by_path(&account_id, path)
                .await?
            {
                self.purge_file(&account_id, &file.file_id).await?;
            }
            return Ok(true);
        }
        let prefix = params
            .get("prefix")
            .and_then(Value::as_str)
            .unwrap_or("/")
            .to_owned();
        loop {
            let batch = self
                .state
                .catalog
                .files_under(&account_id, &prefix, self.cursor.as_deref(), PURGE_BATCH)
                .await?;
            if batch.is_empty() {
                return Ok(true);
            }
            for file in batch {
                self.purge_file(&account_id, &file.file_id).await?;
                self.cursor = Some(file.file_path);
                if !self.checkpoint_if_due().await? {
                    return Ok(false);
                }
            }
            if !self.checkpoint().await? {
                return Ok(false);
            }
        }
    }

    async fn purge_file(&self, account_id: &str, file_id: &str) -> anyhow::Result<()> {
        let versions = self
            .state
            .catalog
            .file_versions(account_id, file_id)
            .await?
            .unwrap_or_default();
        for version in versions {
            self.state
                .blobs
                .delete_dir(&renditions_dir(&version.version_id))
                .await?;
        }
        Ok(())
    }
}

/// The job status object of `GET /v1/bulkJobs/{jobId}` (media-api §2).
pub fn job_status(job: &Job) -> Value {
    let mut obj = serde_json::Map::new();
    obj.insert("jobId".into(), job.job_id.clone().into());
    obj.insert("type".into(), job.kind.as_str().into());
    obj.insert(
        "status".into(),
        if job.completed {
            "Completed"
        } else {
            "Pending"
        }
        .into(),
    );
    if let Some(id) = &job.purge_request_id {
        obj.insert("purgeRequestId".into(), id.clone().into());
    }
    Value::Object(obj)
}

/// Shared so that handlers can wake the runner.
pub type SharedJobs = Arc<Jobs>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_are_one_sanitised_segment() {
        assert_eq!(
            folder_name("summer sale", "folderName").expect("ok"),
            "summer_sale"
        );
        assert_eq!(folder_name("a/b", "folderName").expect("ok"), "a_b");
        assert_eq!(folder_name("..", "folderName").expect("ok"), "__");
        assert!(matches!(
            folder_name("  ", "folderName"),
            Err(AppError::Param(folio_contract::ParamError::Missing(
                "folderName"
            )))
        ));
        assert!(folder_name(&"x".repeat(300), "folderName").is_err());
    }

    #[test]
    fn purge_urls_must_start_with_the_endpoint() {
        let e = "http://h:1/default";
        assert_eq!(
            purge_target("http://h:1/default/a/b%20c.jpg", e).expect("ok"),
            PurgeTarget::Path("/a/b c.jpg".into())
        );
        assert_eq!(
            purge_target("http://h:1/default/a/*", e).expect("ok"),
            PurgeTarget::Prefix("/a/".into())
        );
        assert_eq!(
            purge_target("http://h:1/default*", e).expect("ok"),
            PurgeTarget::Prefix("/".into())
        );
        assert_eq!(
            purge_target("http://h:1/default/tr:w-10/x.jpg?v=1", e).expect("ok"),
            PurgeTarget::Path("/x.jpg".into())
        );
        for bad in [
            "http://other/default/a.jpg",
            "http://h:1/defaultx/a.jpg",
            "/a.jpg",
            "",
        ] {
            assert!(
                matches!(
                    purge_target(bad, e),
                    Err(AppError::PurgeUrlOutsideEndpoint(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn copy_ids_are_stable_per_job_and_source() {
        let job = new_job("acc", JobKind::CopyFolder, Value::Null);
        let a = copy_version_id(&job, "65a000000000000000000001");
        assert!(ids::is_object_id(&a), "{a}");
        assert_eq!(a, copy_version_id(&job, "65a000000000000000000001"));
        assert_ne!(a, copy_version_id(&job, "65a000000000000000000002"));
        let other = new_job("acc", JobKind::CopyFolder, Value::Null);
        assert_ne!(a, copy_version_id(&other, "65a000000000000000000001"));
    }
}
