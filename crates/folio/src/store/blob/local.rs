//! A blob written to the local disk as its bytes arrive.
//!
//! The chunks the body arrives in are kept as they are (reference-counted `Bytes`, never
//! copied into a buffer of ours) until a buffer's worth has arrived; then one blocking task
//! writes them with one vectored write, while the next buffer fills. The file is a staging file
//! beside its final name (`<key>#stage`, which listings skip and the sweeper removes after a
//! crash). Finishing is one blocking task too: the rest of the bytes, the fsync of the file,
//! the rename to the final name and the fsync of the folder. An upload smaller than the buffer
//! is therefore one hop to a blocking thread in all.
//!
//! With fsync on, a large upload also starts flushing while it arrives: every
//! [`EARLY_SYNC_BYTES`], a background `fdatasync` takes what the page cache holds so far to the
//! disk, so the final one has only the tail left and a durable upload takes about as long as
//! receiving it (instead of receiving, then flushing it all).

use std::fs::File;
use std::io::{IoSlice, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use tokio::task::JoinHandle;

/// The staging file of a blob: hidden from listings (object_store skips names with `#`).
fn staging_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("#stage");
    PathBuf::from(name)
}

/// Bytes written between two background flushes of a large upload.
const EARLY_SYNC_BYTES: u64 = 8 << 20;

pub(super) struct LocalWriter {
    path: PathBuf,
    staging: PathBuf,
    fsync: bool,
    buffer_bytes: usize,
    pending: Vec<Bytes>,
    pending_bytes: usize,
    file: FileState,
    /// A second handle of the file, for the background flushes (fsync on, once it exists).
    syncer: Option<Arc<File>>,
    /// The background flush in flight; its error fails the upload at `finish`.
    early_sync: Option<JoinHandle<std::io::Result<()>>>,
    /// Bytes handed to writes since the last background flush started.
    unsynced: u64,
}

enum FileState {
    /// Nothing written yet: the file does not exist.
    NotCreated,
    /// A write in flight; it hands the file back.
    Writing(JoinHandle<std::io::Result<File>>),
    /// A write failed or the writer was taken apart.
    Gone,
}

impl LocalWriter {
    pub(super) fn new(path: PathBuf, fsync: bool, buffer_bytes: usize) -> Self {
        LocalWriter {
            staging: staging_path(&path),
            path,
            fsync,
            buffer_bytes,
            pending: Vec::new(),
            pending_bytes: 0,
            file: FileState::NotCreated,
            syncer: None,
            early_sync: None,
            unsynced: 0,
        }
    }

    pub(super) async fn write(&mut self, bytes: Bytes) -> anyhow::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.pending_bytes += bytes.len();
        self.pending.push(bytes);
        if self.pending_bytes >= self.buffer_bytes {
            let file = self.settle().await?;
            if let Some(file) = &file {
                self.flush_early(file).await?;
            }
            self.unsynced += self.pending_bytes as u64;
            let chunks = std::mem::take(&mut self.pending);
            self.pending_bytes = 0;
            let staging = self.staging.clone();
            self.file = FileState::Writing(tokio::task::spawn_blocking(move || {
                let mut file = open_or_create(file, &staging)?;
                write_all(&mut file, &chunks)?;
                Ok(file)
            }));
        }
        Ok(())
    }

    /// With fsync on, starts a background flush of what was written so far once enough has
    /// been since the last one (and that one is done: one at a time).
    async fn flush_early(&mut self, file: &File) -> anyhow::Result<()> {
        if !self.fsync || self.unsynced < EARLY_SYNC_BYTES {
            return Ok(());
        }
        if self.early_sync.as_ref().is_some_and(|s| !s.is_finished()) {
            return Ok(());
        }
        self.settle_early_sync().await?;
        let syncer = match &self.syncer {
            Some(syncer) => Arc::clone(syncer),
            None => Arc::clone(self.syncer.insert(Arc::new(file.try_clone()?))),
        };
        self.early_sync = Some(tokio::task::spawn_blocking(move || syncer.sync_data()));
        self.unsynced = 0;
        Ok(())
    }

    /// Waits for the background flush, if any. Its failure is the upload's: a later fsync
    /// may not report an error the kernel already reported once.
    async fn settle_early_sync(&mut self) -> anyhow::Result<()> {
        if let Some(sync) = self.early_sync.take() {
            sync.await
                .context("blob flush task")?
                .context("flushing a blob")?;
        }
        Ok(())
    }

    /// Waits for the write in flight, if any; the file, if it exists.
    async fn settle(&mut self) -> anyhow::Result<Option<File>> {
        match std::mem::replace(&mut self.file, FileState::Gone) {
            FileState::NotCreated => Ok(None),
            FileState::Writing(task) => Ok(Some(
                task.await
                    .context("blob write task")?
                    .context("writing a blob")?,
            )),
            FileState::Gone => anyhow::bail!("blob writer already failed"),
        }
    }

    /// Writes what is left, makes it durable (if configured) and gives it its final name.
    pub(super) async fn finish(mut self) -> anyhow::Result<()> {
        let file = self.settle().await?;
        self.settle_early_sync().await?;
        let chunks = std::mem::take(&mut self.pending);
        let (staging, path, fsync) = (self.staging.clone(), self.path.clone(), self.fsync);
        let finished = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let mut file = open_or_create(file, &staging)?;
            write_all(&mut file, &chunks)?;
            if fsync {
                file.sync_data()?;
            }
            drop(file);
            std::fs::rename(&staging, &path)?;
            if fsync {
                // The rename is an entry of the folder: durable once the folder is synced.
                if let Some(dir) = path.parent() {
                    File::open(dir)?.sync_all()?;
                }
            }
            Ok(())
        })
        .await
        .context("blob finish task")?
        .context("finishing a blob");
        if finished.is_ok() {
            // Nothing is left to clean up.
            self.staging = PathBuf::new();
        }
        finished
    }

    /// Gives up: the staging file, if any, is removed once no write is in flight.
    pub(super) async fn abort(mut self) {
        let _ = self.settle().await;
        remove_staging(std::mem::take(&mut self.staging)).await;
    }
}

impl Drop for LocalWriter {
    // A writer dropped unfinished (an error, a client that went away) removes its staging
    // file in the background, after the write in flight (which could create it) has ended.
    fn drop(&mut self) {
        // Empty once finished or aborted.
        let staging = std::mem::take(&mut self.staging);
        if staging.as_os_str().is_empty() {
            return;
        }
        let state = std::mem::replace(&mut self.file, FileState::Gone);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                if let FileState::Writing(task) = state {
                    let _ = task.await;
                }
                remove_staging(staging).await;
            });
        }
    }
}

async fn remove_staging(staging: PathBuf) {
    let removed = tokio::task::spawn_blocking(move || match std::fs::remove_file(&staging) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    })
    .await;
    if let Ok(Err(e)) = removed {
        tracing::debug!(error = %e, "removing a blob's staging file; the sweeper will");
    }
}

fn open_or_create(file: Option<File>, staging: &Path) -> std::io::Result<File> {
    if let Some(file) = file {
        return Ok(file);
    }
    let create = || File::options().write(true).create_new(true).open(staging);
    match create() {
        // Version blobs go to shard folders made when the store opened; other keys may need
        // their folder first.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = staging.parent() {
                std::fs::create_dir_all(dir)?;
            }
            create()
        }
        other => other,
    }
}

/// Writes every chunk, in order, with as few vectored writes as the kernel allows.
pub(super) fn write_all(file: &mut File, chunks: &[Bytes]) -> std::io::Result<()> {
    // No empty slices: a write of nothing would read as a disk that takes no more.
    let mut slices: Vec<IoSlice<'_>> = chunks
        .iter()
        .filter(|c| !c.is_empty())
        .map(|c| IoSlice::new(c))
        .collect();
    let mut slices = &mut slices[..];
    while !slices.is_empty() {
        match file.write_vectored(slices) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
