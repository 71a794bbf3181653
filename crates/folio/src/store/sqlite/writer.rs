//! The upload path's writes to the embedded catalog, on a thread of their own.
//!
//! Burning a token and committing an upload are the two writes every upload makes. They are
//! sent over a channel to one thread that owns a rusqlite connection; it takes every job
//! waiting, runs each in its own savepoint of one `BEGIN IMMEDIATE` transaction and commits
//! once. With `synchronous=FULL` a commit costs an fsync, shared by the uploads that arrived
//! meanwhile; and each job costs one hop to this thread and one back, whatever number of
//! statements it runs (through sqlx, every statement was a hop to its worker thread and back).
//! A resumable upload's progress records come here too: a batch of nothing else commits at
//! `synchronous=NORMAL`, without an fsync (see [`Op::Advance`]).
//!
//! The rest of the catalog's writes go through sqlx's single writer connection; both sides
//! open their transactions with `BEGIN IMMEDIATE`, so they wait for each other on the write
//! lock (the busy timeout) instead of failing to upgrade a read.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::super::commit;
use super::super::rows::{
    current_for_overwrite_from_row, file_at_path_from_row, VersionRow, CURRENT_FOR_OVERWRITE,
    FILE_AT_PATH, INSERT_DELIVERY, INSERT_EVENT_DELIVERIES, INSERT_FILE, INSERT_FOLDER,
    INSERT_VERSION, SET_CURRENT_VERSION,
};
use super::super::rows::{finish_values, DISABLE_ENDPOINT, FINISH_DELIVERY};
use super::super::{
    Change, CommitOutcome, DeliveryKind, DeliveryOutcome, DeliveryReport, NewUpload, Outbox,
};
use crate::ids;

/// Jobs committed together at most; bounds the latency one batch adds to its first job.
const MAX_BATCH: usize = 64;

/// How long a write waits for the lock sqlx's writer may hold.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) enum Op {
    Burn {
        account_id: String,
        token_hash: [u8; 32],
        expires_at: i64,
    },
    Commit(Box<NewUpload>),
    /// The delivery worker's outcomes (`Catalog::finish_deliveries`).
    Finish(Vec<DeliveryReport>),
    /// A resumable upload's durable progress (`Catalog::advance_resumable`). It need not be
    /// durable itself: its bytes are, and an offset lost with the last commits of a power
    /// failure only makes the client send them again. A batch of nothing else commits without
    /// an fsync.
    Advance {
        id_hash: Vec<u8>,
        offset: i64,
        storage: String,
    },
}

pub(super) enum Done {
    Burned(bool),
    Committed(CommitOutcome),
    Finished,
    Advanced(bool),
}

struct Job {
    op: Op,
    /// The request's span: the job's log lines belong to it.
    span: tracing::Span,
    reply: oneshot::Sender<anyhow::Result<Done>>,
}

/// The sending side; the thread ends when it is dropped (with the catalog).
pub(super) struct Writer {
    queue: mpsc::Sender<Job>,
}

impl Writer {
    /// Opens the writer's connection to the (already migrated) catalog and starts its thread.
    pub(super) fn start(path: &Path, fsync: bool) -> anyhow::Result<Self> {
        let conn = Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "synchronous", if fsync { "FULL" } else { "NORMAL" })?;
        conn.pragma_update(None, "foreign_keys", true)?;
        let (queue, jobs) = mpsc::channel(1024);
        std::thread::Builder::new()
            .name("folio-sqlite-writer".into())
            .spawn(move || run(conn, jobs, fsync))
            .context("starting the catalog writer thread")?;
        Ok(Writer { queue })
    }

    pub(super) async fn submit(&self, op: Op) -> anyhow::Result<Done> {
        let (reply, done) = oneshot::channel();
        let job = Job {
            op,
            span: tracing::Span::current(),
            reply,
        };
        self.queue
            .send(job)
            .await
            .map_err(|_| anyhow::anyhow!("the catalog writer has stopped"))?;
        done.await
            .map_err(|_| anyhow::anyhow!("the catalog writer dropped a job"))?
    }
}

/// The writer thread: batches until the channel closes.
fn run(mut conn: Connection, mut jobs: mpsc::Receiver<Job>, fsync: bool) {
    let mut synchronous = Synchronous::configured(fsync);
    while let Some(first) = jobs.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let relaxed = batch.iter().all(|job| matches!(job.op, Op::Advance { .. }));
        let wanted = match relaxed {
            true => Synchronous::Normal,
            false => Synchronous::configured(fsync),
        };
        // Set before the batch, and the batch fails if it cannot be: no commit runs at a
        // level it did not ask for.
        let outcome = synchronous
            .set(&conn, wanted)
            .and_then(|()| run_batch(&mut conn, &batch));
        match outcome {
            Ok(results) => {
                for (job, result) in batch.into_iter().zip(results) {
                    let _ = job.reply.send(result);
                }
            }
            Err(e) => {
                // The batch's transaction did not commit: every job in it failed.
                let text = format!("{e:#}");
                for job in batch {
                    let _ = job
                        .reply
                        .send(Err(anyhow::anyhow!("catalog commit failed: {text}")));
                }
            }
        }
    }
}

/// The connection's `synchronous` setting as last set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Synchronous {
    Full,
    Normal,
    /// A change failed half-way: set it again before anything commits.
    Unknown,
}

impl Synchronous {
    fn configured(fsync: bool) -> Self {
        match fsync {
            true => Synchronous::Full,
            false => Synchronous::Normal,
        }
    }

    fn set(&mut self, conn: &Connection, wanted: Synchronous) -> anyhow::Result<()> {
        if *self == wanted {
            return Ok(());
        }
        *self = Synchronous::Unknown;
        let value = match wanted {
            Synchronous::Normal => "NORMAL",
            _ => "FULL",
        };
        conn.pragma_update(None, "synchronous", value)?;
        *self = wanted;
        Ok(())
    }
}

fn run_batch(conn: &mut Connection, batch: &[Job]) -> anyhow::Result<Vec<anyhow::Result<Done>>> {
    let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        let _entered = job.span.enter();
        let mut savepoint = tx.savepoint()?;
        let result = match &job.op {
            Op::Burn {
                account_id,
                token_hash,
                expires_at,
            } => burn(&savepoint, account_id, token_hash, *expires_at).map(Done::Burned),
            Op::Commit(up) => commit_upload(&savepoint, up).map(Done::Committed),
            Op::Finish(reports) => finish(&savepoint, reports).map(|()| Done::Finished),
            Op::Advance {
                id_hash,
                offset,
                storage,
            } => advance(&savepoint, id_hash, *offset, storage).map(Done::Advanced),
        };
        // Only a job that changed something keeps its writes; a refused commit (path taken,
        // version cap) or a failed statement is undone without touching its neighbours.
        let keep = matches!(
            result,
            Ok(Done::Burned(true))
                | Ok(Done::Committed(CommitOutcome::Committed(_)))
                | Ok(Done::Finished)
                | Ok(Done::Advanced(true))
        );
        if !keep {
            savepoint.rollback()?;
        }
        // Releases the savepoint (after a rollback, an empty one).
        savepoint.commit()?;
        results.push(result);
    }
    tx.commit()?;
    Ok(results)
}

fn advance(conn: &Connection, id_hash: &[u8], offset: i64, storage: &str) -> anyhow::Result<bool> {
    let updated = conn
        .prepare_cached(
            "UPDATE resumable_uploads SET upload_offset = ?, storage = ? \
             WHERE id_hash = ? AND state = 'receiving'",
        )?
        .execute(params![offset, storage, id_hash])?;
    Ok(updated == 1)
}

fn burn(
    conn: &Connection,
    account_id: &str,
    token_hash: &[u8; 32],
    expires_at: i64,
) -> anyhow::Result<bool> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO burned_tokens (account_id, token_hash, expires_at) VALUES (?, ?, ?) \
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![account_id, &token_hash[..], expires_at])?;
    Ok(inserted == 1)
}

/// One upload's catalog writes, inside the caller's savepoint; the rules are [`commit`]'s,
/// this is their SQL.
fn commit_upload(conn: &Connection, up: &NewUpload) -> anyhow::Result<CommitOutcome> {
    let now = ids::now_millis();
    for folder in &up.folder_ancestors {
        conn.prepare_cached(INSERT_FOLDER)?.execute(params![
            &up.account_id,
            folder,
            ids::object_id(),
            now
        ])?;
    }
    let existing = if up.use_unique_file_name {
        None
    } else {
        conn.prepare_cached(FILE_AT_PATH)?
            .query_row(params![&up.account_id, commit::fixed_path(up)], |row| {
                Ok(file_at_path_from_row(row))
            })
            .optional()?
            .transpose()?
    };
    let created = existing.is_none();
    let version = match existing {
        None => {
            let name = if up.use_unique_file_name {
                unused_unique_name(conn, up)?
            } else {
                up.base_name.clone()
            };
            let file = commit::new_file(up, &name, now);
            conn.prepare_cached(INSERT_FILE)?.execute(params![
                &file.file_id,
                &up.account_id,
                &file.file_path,
                &up.folder_path,
                &file.name,
                &file.current_version_id,
                file.last_version_number,
                file.created_at_ms,
                file.created_at_ms,
            ])?;
            commit::create(up, &name, now)
        }
        Some(file) => {
            if let Err(refusal) = commit::may_overwrite(up) {
                return Ok(refusal.into());
            }
            let current = conn
                .prepare_cached(CURRENT_FOR_OVERWRITE)?
                .query_row(params![&file.file_id, &file.current_version_id], |row| {
                    Ok(current_for_overwrite_from_row(row))
                })??;
            let (update, version) = match commit::overwrite(up, &file, current, now) {
                Ok(planned) => planned,
                Err(refusal) => return Ok(refusal.into()),
            };
            conn.prepare_cached(SET_CURRENT_VERSION)?.execute(params![
                &update.current_version_id,
                update.last_version_number,
                update.updated_at_ms,
                &update.file_id,
            ])?;
            version
        }
    };
    let row = VersionRow::of(&version)?;
    conn.prepare_cached(INSERT_VERSION)?.execute(params![
        row.version_id,
        row.file_id,
        row.version_number,
        row.blob_key,
        row.size,
        row.mime,
        row.file_type,
        row.width,
        row.height,
        row.tags,
        row.ai_tags,
        row.custom_metadata,
        row.custom_coordinates,
        row.is_private_file,
        row.is_published,
        row.description,
        row.media,
        row.created_at,
    ])?;
    let change = if created {
        Change::Created(&version)
    } else {
        Change::VersionCreated(&version)
    };
    write_outbox(conn, &up.outbox, change)?;
    Ok(CommitOutcome::Committed(Box::new(version)))
}

/// The first of [`commit::unique_names`] no file holds at the upload's folder. The write lock
/// the batch holds makes the look-ahead sufficient: nothing can take the name before this
/// commit does.
fn unused_unique_name(conn: &Connection, up: &NewUpload) -> anyhow::Result<String> {
    let mut taken = conn.prepare_cached(FILE_TAKEN)?;
    for name in commit::unique_names(up) {
        let path = format!("{}{}", up.folder_path, name);
        if !taken.exists(params![&up.account_id, path])? {
            return Ok(name);
        }
    }
    Err(commit::no_unique_name())
}

/// Records the outcomes of claimed rows (the delivery worker's bookkeeping rides in the
/// uploads' group commit: it never holds the write lock on its own, so it never makes an
/// upload wait).
fn finish(conn: &Connection, reports: &[DeliveryReport]) -> anyhow::Result<()> {
    for report in reports {
        let (state, next, finished) = finish_values(report);
        conn.prepare_cached(FINISH_DELIVERY)?.execute(params![
            state,
            next,
            report.status.map(i64::from),
            &report.error,
            finished,
            report.at_ms,
            report.id,
        ])?;
        if report.outcome == DeliveryOutcome::EndpointGone {
            conn.prepare_cached(DISABLE_ENDPOINT)?
                .execute(params![report.at_ms, report.id])?;
        }
    }
    Ok(())
}

/// Writes the outbox rows of `change` in the caller's savepoint.
fn write_outbox(conn: &Connection, outbox: &Outbox, change: Change<'_>) -> anyhow::Result<()> {
    for row in outbox.rows(&change) {
        if row.kind == DeliveryKind::Event {
            conn.prepare_cached(INSERT_EVENT_DELIVERIES)?
                .execute(params![
                    &row.message_id,
                    &row.account_id,
                    &row.event_type,
                    &row.body,
                    row.created_at_ms,
                ])?;
        } else {
            conn.prepare_cached(INSERT_DELIVERY)?.execute(params![
                &row.message_id,
                &row.account_id,
                row.kind.as_str(),
                &row.event_type,
                &row.target,
                &row.key_id,
                &row.body,
                row.created_at_ms,
            ])?;
        }
    }
    Ok(())
}

const FILE_TAKEN: &str = "SELECT 1 FROM files WHERE account_id = ? AND file_path = ?";
