//! The bytes of a resumable upload while they arrive, over many requests, until the last one
//! makes them a blob.
//!
//! * Local disk: one file, `r/<name>`, appended in place. Each request first cuts it back to
//!   the offset the catalog holds (bytes written after the last durable offset may be there
//!   after a crash or a refused chunk), and on completion the file is renamed to its blob key
//!   (same file system, so no copy).
//! * S3: a multipart upload at the final key, created with the upload. Bytes collect in memory
//!   until a part's worth is there (S3 wants parts of at least 5 MiB but the last); the rest of
//!   a request, shorter than a part, is kept as the object `r/<name>/<parts>` so that the next
//!   request (on any instance) starts from it. The part list lives in the catalog, in
//!   [`PartialState`]. The tail's key names the number of parts it follows: a tail written at a
//!   checkpoint whose state was never recorded (a crash, a lost lease) cannot stand in for the
//!   tail of the state that was, which follows fewer parts. Once a newer state is recorded
//!   ([`PartialWriter::recorded`]) the older tail goes.
//!
//! What is durable is what a [`PartialWriter::checkpoint`] returned: the caller records the
//! offset and state in the catalog only after it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use bytes::{Bytes, BytesMut};
use futures_util::TryStreamExt;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path as ObjectPath;
use object_store::PutPayload;
use serde::{Deserialize, Serialize};

use super::append::{AppendSettings, Appender};
use super::BlobStore;

/// The least a local partial file collects before a write. Each write starts its own
/// write-back (see `open_partial`), so larger writes mean fewer hops and larger requests to the
/// disk; measured on a resumable upload of 256 MiB in 8 MiB PATCHes, 1 MiB was about 10 %
/// faster than the 256 KiB blobs use (docs/benchmarks.md, "Resumable uploads").
const PARTIAL_WRITE_BUFFER: usize = 1 << 20;

/// Folder (local) or key prefix (S3) of the partial data.
pub(super) const PARTIAL_PREFIX: &str = "r";

/// What the catalog keeps of an upload's partial data besides its offset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialState {
    /// The S3 multipart upload's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipart: Option<String>,
    /// The completed parts' ids, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<String>,
    /// Bytes in those parts; the rest of the offset is in the tail object.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub parts_bytes: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The store's handle on S3 multipart uploads (the `ObjectStore` behind a prefix hides it).
#[derive(Clone)]
pub(super) struct Multipart {
    pub(super) store: Arc<dyn MultipartStore>,
    pub(super) prefix: Option<String>,
}

impl Multipart {
    fn path(&self, key: &str) -> ObjectPath {
        match &self.prefix {
            Some(prefix) => ObjectPath::from(format!("{prefix}/{key}")),
            None => ObjectPath::from(key),
        }
    }
}

/// S3: the folder of an upload's tails.
fn tails_prefix(name: &str) -> String {
    format!("{PARTIAL_PREFIX}/{name}")
}

/// S3: the tail that follows `parts` parts.
fn tail_key(name: &str, parts: usize) -> String {
    format!("{PARTIAL_PREFIX}/{name}/{parts}")
}

impl BlobStore {
    fn partial_path(&self, name: &str) -> Option<PathBuf> {
        self.local_root
            .as_ref()
            .map(|root| root.join(PARTIAL_PREFIX).join(name))
    }

    /// Starts the partial data of a new upload that will become the blob `final_key`. `name`
    /// is server-made (hex), never a user's text.
    pub async fn begin_partial(&self, name: &str, final_key: &str) -> anyhow::Result<PartialState> {
        if let Some(path) = self.partial_path(name) {
            tokio::task::spawn_blocking(move || {
                File::options()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&path)
            })
            .await
            .context("partial file task")?
            .context("creating a partial file")?;
            return Ok(PartialState::default());
        }
        let multipart = self.multipart.as_ref().context("store without multipart")?;
        let id = multipart
            .store
            .create_multipart(&multipart.path(final_key))
            .await
            .context("creating a multipart upload")?;
        Ok(PartialState {
            multipart: Some(id),
            ..PartialState::default()
        })
    }

    /// Opens the partial data to append at `offset` (what the catalog holds as durable).
    pub async fn open_partial(
        &self,
        name: &str,
        final_key: &str,
        state: PartialState,
        offset: u64,
    ) -> anyhow::Result<PartialWriter> {
        let inner = if let Some(path) = self.partial_path(name) {
            let opened = path.clone();
            let file = tokio::task::spawn_blocking(move || -> std::io::Result<File> {
                let mut file = File::options().write(true).open(&opened)?;
                // Bytes past the durable offset were never acknowledged.
                file.set_len(offset)?;
                file.seek(SeekFrom::Start(offset))?;
                Ok(file)
            })
            .await
            .context("partial file task")?
            .context("opening a partial file")?;
            // Every checkpoint (the end of each PATCH, at least) waits for what is not on the
            // disk yet: write-behind keeps that to the last write or two.
            let settings = AppendSettings {
                fsync: self.fsync,
                buffer_bytes: self.write_buffer.max(PARTIAL_WRITE_BUFFER),
                early_sync_bytes: 0,
                write_behind: true,
            };
            Inner::Local(Appender::open(path, file, settings))
        } else {
            let multipart = self.multipart.clone().context("store without multipart")?;
            let tail_len = offset
                .checked_sub(state.parts_bytes)
                .context("offset below the bytes in parts")?;
            let mut tail = Vec::new();
            if tail_len > 0 {
                let bytes = self
                    .read_all(&tail_key(name, state.parts.len()))
                    .await?
                    .context("the tail of a resumable upload is missing")?;
                anyhow::ensure!(
                    bytes.len() as u64 >= tail_len,
                    "the tail of a resumable upload is shorter than its offset"
                );
                tail.push(bytes.slice(..tail_len as usize));
            }
            Inner::S3 {
                multipart,
                key: final_key.to_owned(),
                name: name.to_owned(),
                recorded_parts: state.parts.len(),
                buffered: tail_len,
                buffer: tail,
                part_size: self.write_buffer as u64,
                state,
            }
        };
        Ok(PartialWriter {
            store: self.clone(),
            offset,
            inner,
        })
    }

    /// Up to `len` of the first bytes received, while they are all still readable as partial
    /// data (locally always; on S3 until the first part is sent, i.e. the first 5 MiB).
    pub async fn partial_head(&self, name: &str, len: u64) -> anyhow::Result<Vec<u8>> {
        if let Some(path) = self.partial_path(name) {
            return tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
                let mut head = Vec::new();
                File::open(&path)?.take(len).read_to_end(&mut head)?;
                Ok(head)
            })
            .await
            .context("partial file task")?
            .context("reading a partial file");
        }
        // Only asked for before the first part is sent.
        let bytes = self.read_all(&tail_key(name, 0)).await?.unwrap_or_default();
        Ok(bytes[..bytes.len().min(len as usize)].to_vec())
    }

    /// Partial data (local files, S3 tails) untouched since before `cutoff` (Unix seconds):
    /// what uploads whose row is gone left behind (a crash between creating the data and the
    /// row, or an expired upload whose removal failed half-way). Returns how many went.
    pub async fn sweep_stale_partials(&self, cutoff: i64) -> anyhow::Result<usize> {
        let stale: Vec<String> = self
            .store
            .list(Some(&ObjectPath::from(PARTIAL_PREFIX)))
            .try_filter_map(|meta| async move {
                Ok((meta.last_modified.timestamp() < cutoff).then(|| meta.location.to_string()))
            })
            .try_collect()
            .await?;
        for key in &stale {
            self.delete(key).await?;
        }
        Ok(stale.len())
    }

    /// Removes an upload's partial data: its file, or its multipart upload and tail object.
    pub async fn discard_partial(
        &self,
        name: &str,
        final_key: &str,
        state: &PartialState,
    ) -> anyhow::Result<()> {
        if let Some(path) = self.partial_path(name) {
            return tokio::task::spawn_blocking(move || match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            })
            .await
            .context("partial file task")?
            .context("removing a partial file");
        }
        if let (Some(multipart), Some(id)) = (&self.multipart, &state.multipart) {
            match multipart
                .store
                .abort_multipart(&multipart.path(final_key), id)
                .await
            {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e).context("aborting a multipart upload"),
            }
        }
        self.delete_tails(name).await
    }

    /// S3: every tail object of an upload.
    async fn delete_tails(&self, name: &str) -> anyhow::Result<()> {
        let keys: Vec<ObjectPath> = self
            .store
            .list(Some(&ObjectPath::from(tails_prefix(name))))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await?;
        for key in keys {
            self.delete(key.as_ref()).await?;
        }
        Ok(())
    }
}

/// Appends to a resumable upload's partial data during one request.
pub struct PartialWriter {
    store: BlobStore,
    /// Bytes of the upload accepted so far, durable or not.
    offset: u64,
    inner: Inner,
}

enum Inner {
    Local(Appender),
    S3 {
        multipart: Multipart,
        /// The final key, below the prefix the multipart handle adds.
        key: String,
        /// The upload's partial name: its tails' folder.
        name: String,
        /// Parts of the state last recorded in the catalog: whose tail is the one to keep.
        recorded_parts: usize,
        /// Bytes after the last part: the tail read back at open, then what arrived.
        buffer: Vec<Bytes>,
        buffered: u64,
        part_size: u64,
        state: PartialState,
    },
}

impl PartialWriter {
    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub async fn write(&mut self, bytes: Bytes) -> anyhow::Result<()> {
        let len = bytes.len() as u64;
        match &mut self.inner {
            Inner::Local(file) => file.write(bytes).await?,
            Inner::S3 {
                buffer,
                buffered,
                part_size,
                ..
            } => {
                buffer.push(bytes);
                *buffered += len;
                if *buffered >= *part_size {
                    self.send_part().await?;
                }
            }
        }
        self.offset += len;
        Ok(())
    }

    /// S3: the buffered bytes become the next part.
    async fn send_part(&mut self) -> anyhow::Result<()> {
        let Inner::S3 {
            multipart,
            key,
            buffer,
            buffered,
            state,
            ..
        } = &mut self.inner
        else {
            return Ok(());
        };
        let id = state.multipart.clone().context("no multipart upload")?;
        let payload: PutPayload = std::mem::take(buffer).into_iter().collect();
        let part = multipart
            .store
            .put_part(&multipart.path(key), &id, state.parts.len(), payload)
            .await
            .context("sending a part")?;
        state.parts.push(part.content_id);
        state.parts_bytes += *buffered;
        *buffered = 0;
        Ok(())
    }

    /// Makes every byte accepted so far durable and returns the state to record with
    /// [`Self::offset`].
    pub async fn checkpoint(&mut self) -> anyhow::Result<PartialState> {
        match &mut self.inner {
            Inner::Local(file) => {
                file.sync().await?;
                Ok(PartialState::default())
            }
            Inner::S3 {
                buffer,
                name,
                state,
                ..
            } => {
                let tail: Bytes = match buffer.len() {
                    1 => buffer[0].clone(),
                    _ => {
                        let mut joined = BytesMut::new();
                        for b in buffer.iter() {
                            joined.extend_from_slice(b);
                        }
                        let joined = joined.freeze();
                        *buffer = vec![joined.clone()];
                        joined
                    }
                };
                let state = state.clone();
                self.store
                    .put(&tail_key(name, state.parts.len()), tail)
                    .await?;
                Ok(state)
            }
        }
    }

    /// The state the last [`Self::checkpoint`] returned is recorded in the catalog: S3 tails
    /// of older states can go.
    pub async fn recorded(&mut self) {
        let Inner::S3 {
            name,
            state,
            recorded_parts,
            ..
        } = &mut self.inner
        else {
            return;
        };
        let superseded = std::mem::replace(recorded_parts, state.parts.len());
        if superseded != *recorded_parts {
            if let Err(e) = self.store.delete(&tail_key(name, superseded)).await {
                tracing::debug!(error = %e, "removing a superseded tail; it goes with the upload");
            }
        }
    }

    /// The last byte is in: the partial data becomes the blob `final_key` (durable when the
    /// store is configured so).
    pub async fn complete(mut self, final_key: &str) -> anyhow::Result<()> {
        if matches!(&self.inner, Inner::S3 { buffered, .. } if *buffered > 0) {
            self.send_part().await?;
        }
        match self.inner {
            Inner::Local(file) => {
                let root = self.store.local_root.as_ref().context("local store")?;
                file.finish(&root.join(final_key))
                    .await
                    .context("moving a partial file into the blob store")
            }
            Inner::S3 {
                multipart,
                name,
                state,
                ..
            } => {
                let id = state.multipart.clone().context("no multipart upload")?;
                let parts = state
                    .parts
                    .iter()
                    .map(|p| PartId {
                        content_id: p.clone(),
                    })
                    .collect();
                multipart
                    .store
                    .complete_multipart(&multipart.path(final_key), &id, parts)
                    .await
                    .context("completing a multipart upload")?;
                if let Err(e) = self.store.delete_tails(&name).await {
                    tracing::debug!(error = %e, "removing the tails of a completed upload");
                }
                Ok(())
            }
        }
    }
}
