//! A blob written to the local disk as its bytes arrive.
//!
//! The file is a staging file beside its final name (`<key>#stage`, which listings skip and the
//! sweeper removes after a crash), written by an [`Appender`]: buffered, vectored writes on a
//! blocking thread while the next buffer fills, and with fsync on, background flushes while a
//! large upload arrives. Finishing is one blocking task: the rest of the bytes, the fsync of the
//! file, the rename to the final name and the fsync of the folder. An upload smaller than the
//! buffer is therefore one hop to a blocking thread in all.

use std::path::{Path, PathBuf};

use tracing::Instrument;

use super::append::{AppendSettings, Appender};

/// The staging file of a blob: hidden from listings (object_store skips names with `#`).
fn staging_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("#stage");
    PathBuf::from(name)
}

/// Bytes written between two background flushes of a large upload: a blob has to be durable
/// only once, at its end.
pub(super) const EARLY_SYNC_BYTES: u64 = 8 << 20;

pub(super) struct LocalWriter {
    path: PathBuf,
    /// `None` once finished or aborted: nothing left to clean up.
    file: Option<Appender>,
}

impl LocalWriter {
    pub(super) fn new(path: PathBuf, fsync: bool, buffer_bytes: usize) -> Self {
        let settings = AppendSettings {
            fsync,
            buffer_bytes,
            early_sync_bytes: EARLY_SYNC_BYTES,
            // A blob becomes durable once, at its end: background flushes keep the most of the
            // disk's rate for it (write-behind measured 6 % slower for 256 MiB uploads).
            write_behind: false,
        };
        LocalWriter {
            file: Some(Appender::create(staging_path(&path), settings)),
            path,
        }
    }

    pub(super) async fn write(&mut self, bytes: bytes::Bytes) -> anyhow::Result<()> {
        match &mut self.file {
            Some(file) => file.write(bytes).await,
            None => anyhow::bail!("blob writer already finished"),
        }
    }

    /// Writes what is left, makes it durable (if configured) and gives it its final name.
    pub(super) async fn finish(mut self) -> anyhow::Result<()> {
        let file = self
            .file
            .take()
            .ok_or_else(|| anyhow::anyhow!("blob writer already finished"))?;
        let staging = file.path().to_owned();
        let finished = file.finish(&self.path).await;
        if finished.is_err() {
            remove_staging(staging).await;
        }
        finished
    }

    /// Gives up: the staging file, if any, is removed once no write is in flight.
    pub(super) async fn abort(mut self) {
        if let Some(file) = self.file.take() {
            let staging = file.path().to_owned();
            file.stop().await;
            remove_staging(staging).await;
        }
    }
}

impl Drop for LocalWriter {
    // A writer dropped unfinished (an error, a client that went away) removes its staging
    // file in the background, after the write in flight (which could create it) has ended.
    fn drop(&mut self) {
        let Some(mut file) = self.file.take() else {
            return;
        };
        let staging = file.path().to_owned();
        let in_flight = file.take_write_in_flight();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(
                async move {
                    if let Some(task) = in_flight {
                        let _ = task.await;
                    }
                    remove_staging(staging).await;
                }
                .in_current_span(),
            );
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
