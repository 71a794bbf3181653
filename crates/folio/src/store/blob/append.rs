//! A local file appended to as a request's bytes arrive: the writing machinery shared by new
//! blobs (`local.rs`) and the partial data of resumable uploads (`partial.rs`).
//!
//! The chunks the body arrives in are kept as they are (reference-counted `Bytes`, never
//! copied into a buffer of ours) until a buffer's worth has arrived; then one blocking task
//! writes them with one vectored write, while the next buffer fills.
//!
//! With fsync on, the file is also flushed while it grows, so that when the bytes must be
//! durable (the end of a blob, a checkpoint of a resumable upload) little is left to flush and
//! making a file durable takes about as long as receiving it instead of receiving, then
//! flushing it all. Two ways, chosen by the caller:
//!
//! * background flushes: once `early_sync_bytes` have been written since the last flush started
//!   (and that one has ended), a background `fdatasync` takes what the page cache holds so far
//!   to the disk. New blobs use these: they become durable once.
//! * write-behind: each write starts its own write-back at once ([`folio_sys::start_writeback`]),
//!   without the metadata write and the disk-cache flush an `fdatasync` adds. A file made
//!   durable often uses this (a resumable upload's partial file, at every PATCH): with
//!   background flushes, each round's fixed cost let megabytes pile up behind it, and every
//!   checkpoint waited for them (measured in docs/benchmarks.md, "Resumable uploads").

use std::fs::File;
use std::io::{IoSlice, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use tokio::task::JoinHandle;

pub(super) struct Appender {
    path: PathBuf,
    fsync: bool,
    write_behind: bool,
    buffer_bytes: usize,
    early_sync_bytes: u64,
    pending: Vec<Bytes>,
    pending_bytes: usize,
    file: FileState,
    /// A second handle of the file, for the background flushes (fsync on, once it exists).
    syncer: Option<Arc<File>>,
    /// The background flush in flight; its error is the file's at the next `sync` or `finish`.
    early_sync: Option<JoinHandle<std::io::Result<()>>>,
    /// Bytes handed to writes since the last background flush started.
    unsynced: u64,
}

enum FileState {
    /// Nothing written yet: the file is created (it must not exist) by the first write.
    NotCreated,
    Idle(File),
    /// A write in flight; it hands the file back.
    Writing(JoinHandle<std::io::Result<File>>),
    /// A write failed or the file was handed on.
    Gone,
}

/// How a file is written.
#[derive(Debug, Clone, Copy)]
pub(super) struct AppendSettings {
    /// Flush to the disk where the caller asks for durability.
    pub fsync: bool,
    /// Bytes collected before a write.
    pub buffer_bytes: usize,
    /// Bytes written between two background flushes (with `fsync`, without `write_behind`).
    pub early_sync_bytes: u64,
    /// Start each write's write-back at once instead of flushing in the background (with
    /// `fsync`).
    pub write_behind: bool,
}

impl Appender {
    /// A file that does not exist yet, created by the first write (a file of nothing written
    /// is only created by `finish`).
    pub(super) fn create(path: PathBuf, settings: AppendSettings) -> Self {
        Self::with_state(path, settings, FileState::NotCreated)
    }

    /// An open file, written from its current position.
    pub(super) fn open(path: PathBuf, file: File, settings: AppendSettings) -> Self {
        Self::with_state(path, settings, FileState::Idle(file))
    }

    fn with_state(path: PathBuf, settings: AppendSettings, file: FileState) -> Self {
        Appender {
            path,
            fsync: settings.fsync,
            write_behind: settings.fsync && settings.write_behind,
            buffer_bytes: settings.buffer_bytes,
            early_sync_bytes: settings.early_sync_bytes,
            pending: Vec::new(),
            pending_bytes: 0,
            file,
            syncer: None,
            early_sync: None,
            unsynced: 0,
        }
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
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
            let (path, write_behind) = (self.path.clone(), self.write_behind);
            self.file = FileState::Writing(tokio::task::spawn_blocking(move || {
                let mut file = open_or_create(file, &path)?;
                write_all(&mut file, &chunks)?;
                if write_behind {
                    folio_sys::start_writeback(&file)?;
                }
                Ok(file)
            }));
        }
        Ok(())
    }

    /// With fsync on, starts a background flush of what was written so far once enough has
    /// been since the last one (and that one is done: one at a time).
    async fn flush_early(&mut self, file: &File) -> anyhow::Result<()> {
        if !self.fsync || self.write_behind || self.unsynced < self.early_sync_bytes {
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

    /// Waits for the background flush, if any. Its failure is the file's: a later fsync may
    /// not report an error the kernel already reported once.
    async fn settle_early_sync(&mut self) -> anyhow::Result<()> {
        if let Some(sync) = self.early_sync.take() {
            sync.await
                .context("file flush task")?
                .context("flushing a file")?;
        }
        Ok(())
    }

    /// Waits for the write in flight, if any; the file, if it exists.
    async fn settle(&mut self) -> anyhow::Result<Option<File>> {
        match std::mem::replace(&mut self.file, FileState::Gone) {
            FileState::NotCreated => Ok(None),
            FileState::Idle(file) => Ok(Some(file)),
            FileState::Writing(task) => Ok(Some(
                task.await
                    .context("file write task")?
                    .context("writing a file")?,
            )),
            FileState::Gone => anyhow::bail!("file writer already failed"),
        }
    }

    /// Writes what is pending and flushes the file (with fsync on): every byte handed to
    /// `write` so far is on the disk. One blocking hop.
    pub(super) async fn sync(&mut self) -> anyhow::Result<()> {
        let file = self.settle().await?;
        self.settle_early_sync().await?;
        let chunks = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        self.unsynced = 0;
        let (path, fsync) = (self.path.clone(), self.fsync);
        let file = tokio::task::spawn_blocking(move || -> std::io::Result<File> {
            let mut file = open_or_create(file, &path)?;
            write_all(&mut file, &chunks)?;
            if fsync {
                file.sync_data()?;
            }
            Ok(file)
        })
        .await
        .context("file write task")?
        .context("writing a file")?;
        self.file = FileState::Idle(file);
        Ok(())
    }

    /// Writes what is left, flushes it (with fsync on) and renames the file to `to`, durably:
    /// one blocking hop.
    pub(super) async fn finish(mut self, to: &Path) -> anyhow::Result<()> {
        let file = self.settle().await?;
        self.settle_early_sync().await?;
        let chunks = std::mem::take(&mut self.pending);
        let (from, to, fsync) = (self.path.clone(), to.to_owned(), self.fsync);
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let mut file = open_or_create(file, &from)?;
            write_all(&mut file, &chunks)?;
            if fsync {
                file.sync_data()?;
            }
            drop(file);
            std::fs::rename(&from, &to)?;
            if fsync {
                // The rename is an entry of the folder: durable once the folder is synced.
                if let Some(dir) = to.parent() {
                    File::open(dir)?.sync_all()?;
                }
            }
            Ok(())
        })
        .await
        .context("file finish task")?
        .context("finishing a file")
    }

    /// Waits for the write in flight, if any (after which nothing more reaches the file).
    pub(super) async fn stop(mut self) {
        let _ = self.settle().await;
    }

    /// The write in flight, for a caller that cannot await it (a `Drop`).
    pub(super) fn take_write_in_flight(&mut self) -> Option<JoinHandle<std::io::Result<File>>> {
        match std::mem::replace(&mut self.file, FileState::Gone) {
            FileState::Writing(task) => Some(task),
            _ => None,
        }
    }
}

fn open_or_create(file: Option<File>, path: &Path) -> std::io::Result<File> {
    if let Some(file) = file {
        return Ok(file);
    }
    let create = || File::options().write(true).create_new(true).open(path);
    match create() {
        // Version blobs go to shard folders made when the store opened; other keys may need
        // their folder first.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            create()
        }
        other => other,
    }
}

/// Writes every chunk, in order, with as few vectored writes as the kernel allows.
fn write_all(file: &mut File, chunks: &[Bytes]) -> std::io::Result<()> {
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
