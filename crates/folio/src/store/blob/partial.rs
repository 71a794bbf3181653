//! The bytes of a resumable upload while they arrive, over many requests, until the last one
//! makes them a blob.
//!
//! * Local disk: one file, `r/<name>`, appended in place. Each request first cuts it back to
//!   the offset the catalog holds (bytes written after the last durable offset may be there
//!   after a crash or a refused chunk), and on completion the file is renamed to its blob key
//!   (same file system, so no copy).
//! * S3: a multipart upload at the final key, created with the upload. A request that says its
//!   length (`Content-Length`, [`PartialWriter::expect`]) and brings a part's worth streams
//!   that part to S3 while the bytes arrive (`s3_part`), keeping them in memory until S3 has
//!   them; otherwise bytes collect in memory until a part's worth is there and are sent then
//!   (S3 wants parts of at least 5 MiB but the last). The rest of a request, shorter than a
//!   part, is kept as the object `r/<name>/<parts>` so that the next request (on any instance)
//!   starts from it. The part list lives in the catalog, in
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
use super::s3_part::{PartStreamer, StreamingPart};
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
    /// Parts sent while they arrive, where the configuration allows (see [`PartStreamer`]).
    pub(super) streamer: Option<Arc<PartStreamer>>,
    pub(super) prefix: Option<String>,
}

impl Multipart {
    pub(super) fn path(&self, key: &str) -> ObjectPath {
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
            Inner::S3(Box::new(S3Partial {
                store: self.clone(),
                multipart,
                key: final_key.to_owned(),
                name: name.to_owned(),
                recorded_tail: (tail_len > 0).then_some(state.parts.len()),
                checkpoint_tail: None,
                buffered: tail_len,
                buffer: tail,
                part_size: self.write_buffer as u64,
                state,
                coming: 0,
                coming_ends_upload: false,
                streaming: None,
            }))
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
    // Boxed: its part list and buffers are larger than a file's handle.
    S3(Box<S3Partial>),
}

/// The S3 side of a [`PartialWriter`]: parts sent, and the bytes after them.
struct S3Partial {
    store: BlobStore,
    multipart: Multipart,
    /// The final key, below the prefix the multipart handle adds.
    key: String,
    /// The upload's partial name: its tails' folder.
    name: String,
    /// The tail object of the state last recorded in the catalog (named by its parts), if it
    /// has one: the one to keep.
    recorded_tail: Option<usize>,
    /// The tail object the last checkpoint wrote, if it had bytes to write.
    checkpoint_tail: Option<usize>,
    /// Bytes after the last part: the tail read back at open, then what arrived. A part
    /// being streamed is among them until S3 has it.
    buffer: Vec<Bytes>,
    buffered: u64,
    part_size: u64,
    state: PartialState,
    /// Bytes the request's body still brings, as its `Content-Length` said ([`PartialWriter::expect`]);
    /// 0 when unknown.
    coming: u64,
    /// Whether those bytes end the upload.
    coming_ends_upload: bool,
    /// The part being streamed while its bytes arrive: its length and request.
    streaming: Option<(u64, StreamingPart)>,
}

/// How long the part to stream next is, given the bytes kept since the last part (`buffered`)
/// and those the request still brings (`coming`; `last`: they end the upload). `None`: they
/// make no part yet (they wait for the next request, as the tail).
///
/// Parts are `part_size` long, but a rest shorter than another part's worth joins the part
/// before it (a part holds less than two part sizes), so that a request of one to two part
/// sizes leaves no tail to write.
fn next_part_len(buffered: u64, coming: u64, last: bool, part_size: u64) -> Option<u64> {
    let available = buffered + coming;
    if coming == 0 {
        None
    } else if available >= 2 * part_size {
        Some(part_size.max(buffered))
    } else if available >= part_size || last {
        Some(available)
    } else {
        None
    }
}

impl PartialWriter {
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The request's body brings `len` more bytes (its `Content-Length`), the upload's last
    /// when `ends_upload`: on S3, parts can then leave while the bytes arrive.
    pub fn expect(&mut self, len: u64, ends_upload: bool) {
        if let Inner::S3(s3) = &mut self.inner {
            s3.coming = len;
            s3.coming_ends_upload = ends_upload;
        }
    }

    pub async fn write(&mut self, bytes: Bytes) -> anyhow::Result<()> {
        let len = bytes.len() as u64;
        match &mut self.inner {
            Inner::Local(file) => file.write(bytes).await?,
            Inner::S3(s3) => s3.write(bytes).await?,
        }
        self.offset += len;
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
            Inner::S3(s3) => s3.checkpoint().await,
        }
    }

    /// The state the last [`Self::checkpoint`] returned is recorded in the catalog: S3 tails
    /// of older states can go.
    pub async fn recorded(&mut self) {
        if let Inner::S3(s3) = &mut self.inner {
            s3.recorded().await;
        }
    }

    /// The last byte is in: the partial data becomes the blob `final_key` (durable when the
    /// store is configured so).
    pub async fn complete(self, final_key: &str) -> anyhow::Result<()> {
        match self.inner {
            Inner::Local(file) => {
                let root = self.store.local_root.as_ref().context("local store")?;
                file.finish(&root.join(final_key))
                    .await
                    .context("moving a partial file into the blob store")
            }
            Inner::S3(s3) => s3.complete(final_key).await,
        }
    }
}

impl S3Partial {
    async fn write(&mut self, mut bytes: Bytes) -> anyhow::Result<()> {
        while !bytes.is_empty() {
            if self.streaming.is_none() {
                self.start_streaming().await;
            }
            let Some((length, part)) = &mut self.streaming else {
                // No part to stream: the bytes wait, and become a part once there are enough.
                self.coming = self.coming.saturating_sub(bytes.len() as u64);
                self.buffered += bytes.len() as u64;
                self.buffer.push(bytes);
                if self.buffered >= self.part_size {
                    self.send_part().await?;
                }
                return Ok(());
            };
            let room = usize::try_from(*length - self.buffered).unwrap_or(usize::MAX);
            let piece = if bytes.len() > room {
                bytes.split_to(room)
            } else {
                std::mem::take(&mut bytes)
            };
            self.coming = self.coming.saturating_sub(piece.len() as u64);
            self.buffered += piece.len() as u64;
            self.buffer.push(piece.clone());
            part.feed(piece).await;
            if self.buffered == *length {
                self.end_streaming().await?;
            }
        }
        Ok(())
    }

    /// Starts streaming the next part if the bytes kept and coming make one, with the kept
    /// bytes first.
    async fn start_streaming(&mut self) {
        let (Some(streamer), Some(id)) = (&self.multipart.streamer, &self.state.multipart) else {
            return;
        };
        if !streamer.active() {
            return;
        }
        let Some(length) = next_part_len(
            self.buffered,
            self.coming,
            self.coming_ends_upload,
            self.part_size,
        ) else {
            return;
        };
        let mut part = streamer.start(
            &self.multipart.path(&self.key),
            id,
            self.state.parts.len(),
            length,
        );
        for bytes in &self.buffer {
            part.feed(bytes.clone()).await;
        }
        self.streaming = Some((length, part));
    }

    /// The streamed part's bytes are all fed: it is a part once S3 has it, or, if its request
    /// failed, once it is sent again from the bytes kept.
    async fn end_streaming(&mut self) -> anyhow::Result<()> {
        let (Some((_, part)), Some(streamer)) = (self.streaming.take(), &self.multipart.streamer)
        else {
            return Ok(());
        };
        let result = part.finish().await;
        streamer.count(result.is_err());
        match result {
            Ok(etag) => {
                self.state.parts.push(etag);
                self.state.parts_bytes += self.buffered;
                self.buffer.clear();
                self.buffered = 0;
                Ok(())
            }
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "a streamed part failed; sending it again"
                );
                self.send_part().await
            }
        }
    }

    /// The bytes kept become the next part, sent from memory.
    async fn send_part(&mut self) -> anyhow::Result<()> {
        let id = self
            .state
            .multipart
            .clone()
            .context("no multipart upload")?;
        let payload: PutPayload = std::mem::take(&mut self.buffer).into_iter().collect();
        let part = self
            .multipart
            .store
            .put_part(
                &self.multipart.path(&self.key),
                &id,
                self.state.parts.len(),
                payload,
            )
            .await
            .context("sending a part")?;
        self.state.parts.push(part.content_id);
        self.state.parts_bytes += self.buffered;
        self.buffered = 0;
        Ok(())
    }

    /// The bytes kept (a part being streamed among them) are written as the tail of the parts
    /// sent; a state without such bytes needs no tail.
    async fn checkpoint(&mut self) -> anyhow::Result<PartialState> {
        self.checkpoint_tail = None;
        if self.buffered == 0 {
            return Ok(self.state.clone());
        }
        let tail: Bytes = match self.buffer.len() {
            1 => self.buffer[0].clone(),
            _ => {
                let mut joined = BytesMut::with_capacity(self.buffered as usize);
                for b in &self.buffer {
                    joined.extend_from_slice(b);
                }
                let joined = joined.freeze();
                self.buffer = vec![joined.clone()];
                joined
            }
        };
        self.store
            .put(&tail_key(&self.name, self.state.parts.len()), tail)
            .await?;
        self.checkpoint_tail = Some(self.state.parts.len());
        Ok(self.state.clone())
    }

    async fn recorded(&mut self) {
        let superseded = std::mem::replace(&mut self.recorded_tail, self.checkpoint_tail);
        if let Some(old) = superseded.filter(|old| Some(*old) != self.recorded_tail) {
            if let Err(e) = self.store.delete(&tail_key(&self.name, old)).await {
                tracing::debug!(error = %e, "removing a superseded tail; it goes with the upload");
            }
        }
    }

    async fn complete(mut self, final_key: &str) -> anyhow::Result<()> {
        // A part still streaming here did not get its bytes (the body was shorter than it
        // said): the bytes kept go as one part.
        self.streaming = None;
        if self.buffered > 0 {
            self.send_part().await?;
        }
        let id = self
            .state
            .multipart
            .clone()
            .context("no multipart upload")?;
        let parts = self
            .state
            .parts
            .iter()
            .map(|p| PartId {
                content_id: p.clone(),
            })
            .collect();
        self.multipart
            .store
            .complete_multipart(&self.multipart.path(final_key), &id, parts)
            .await
            .context("completing a multipart upload")?;
        if let Err(e) = self.store.delete_tails(&self.name).await {
            tracing::debug!(error = %e, "removing the tails of a completed upload");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn parts_are_streamed_when_a_request_brings_enough() {
        let part = 8 * MIB;
        // 8 MiB requests: one part each, nothing left over.
        assert_eq!(next_part_len(0, 8 * MIB, false, part), Some(8 * MIB));
        // Less than a part: kept as the tail, unless it ends the upload.
        assert_eq!(next_part_len(MIB, 3 * MIB, false, part), None);
        assert_eq!(next_part_len(MIB, 3 * MIB, true, part), Some(4 * MIB));
        // A tail and a request that make a part together.
        assert_eq!(next_part_len(6 * MIB, 3 * MIB, false, part), Some(9 * MIB));
        // A rest shorter than a part joins the part before it.
        assert_eq!(next_part_len(0, 15 * MIB, false, part), Some(15 * MIB));
        assert_eq!(next_part_len(0, 16 * MIB, false, part), Some(8 * MIB));
        // A long tail (a streamed part whose request was cut) leaves whole.
        assert_eq!(
            next_part_len(12 * MIB, 10 * MIB, false, part),
            Some(12 * MIB)
        );
        // A body of unknown length streams nothing.
        assert_eq!(next_part_len(6 * MIB, 0, false, part), None);
    }
}
