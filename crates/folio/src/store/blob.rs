//! Blob storage through `object_store`: the local filesystem by default, any S3-compatible
//! store when configured.
//!
//! The server names every blob ([`blob_key`]); a user's file name never reaches a path.
//! A blob is written once, as the upload streams in, and is immutable afterwards: an
//! overwrite creates a new version with a new blob.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::buffered::BufWriter;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore};
use tokio::io::AsyncWriteExt;

/// Prefix under which version blobs live.
const VERSIONS_PREFIX: &str = "v";

/// The object key of a version's bytes: sharded by the id's random tail so that no directory
/// grows too large (the leading bytes of an id are a timestamp and would all be alike).
pub fn blob_key(version_id: &str) -> String {
    let n = version_id.len();
    let (a, b) = if n >= 4 {
        (&version_id[n - 2..], &version_id[n - 4..n - 2])
    } else {
        ("00", "00")
    };
    format!("{VERSIONS_PREFIX}/{a}/{b}/{version_id}")
}

#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// Root folder when the store is the local filesystem (for fsync).
    local_root: Option<PathBuf>,
    fsync: bool,
    write_buffer: usize,
}

pub struct BlobObject {
    pub size: u64,
    /// The bytes of the requested range.
    pub range: Range<u64>,
    pub stream: BoxStream<'static, std::io::Result<Bytes>>,
}

impl BlobStore {
    /// `url` is `file://PATH`; the folder is created.
    pub fn open(url: &str, fsync: bool, write_buffer: usize) -> anyhow::Result<Self> {
        let Some(path) = url.strip_prefix("file://") else {
            anyhow::bail!("unsupported blob store URL (expected file://…): {url}");
        };
        let root = PathBuf::from(path);
        std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        let root = root.canonicalize()?;
        let store = LocalFileSystem::new_with_prefix(&root)?;
        Ok(BlobStore {
            store: Arc::new(store),
            local_root: Some(root),
            fsync,
            write_buffer,
        })
    }

    /// Starts writing a new blob. Until [`BlobWriter::finish`] succeeds nothing is visible
    /// under `key`; a writer dropped unfinished leaves no object behind.
    pub fn writer(&self, key: &str) -> BlobWriter {
        let writer = BufWriter::with_capacity(
            Arc::clone(&self.store),
            ObjectPath::from(key),
            self.write_buffer,
        )
        // Two parts in flight keep the disk busy while the next part fills, and bound the
        // memory of one upload to about three buffers.
        .with_max_concurrency(2);
        BlobWriter {
            inner: writer,
            key: key.to_owned(),
            store: self.clone(),
            written: 0,
        }
    }

    /// Reads a blob, or the part of it named by `range` (already validated against the size
    /// the catalog holds).
    pub async fn get(&self, key: &str, range: Option<Range<u64>>) -> anyhow::Result<BlobObject> {
        let options = GetOptions {
            range: range.clone().map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let result = self.store.get_opts(&ObjectPath::from(key), options).await?;
        let size = result.meta.size;
        let range = result.range.clone();
        let stream = result
            .into_stream()
            .map_err(|e| std::io::Error::other(e.to_string()))
            .boxed();
        Ok(BlobObject {
            size,
            range,
            stream,
        })
    }

    /// A small object whole (renditions), or `None` when it does not exist.
    pub async fn read_all(&self, key: &str) -> anyhow::Result<Option<Bytes>> {
        match self.store.get(&ObjectPath::from(key)).await {
            Ok(result) => Ok(Some(result.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes a small object in one piece (renditions derived from a version).
    pub async fn put(&self, key: &str, bytes: Bytes) -> anyhow::Result<()> {
        self.store.put(&ObjectPath::from(key), bytes.into()).await?;
        Ok(())
    }

    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every version blob with its last-modified time (Unix seconds).
    pub fn list_version_blobs(&self) -> BoxStream<'static, anyhow::Result<(String, i64)>> {
        self.store
            .list(Some(&ObjectPath::from(VERSIONS_PREFIX)))
            .map(|item| {
                let meta = item?;
                Ok((meta.location.to_string(), meta.last_modified.timestamp()))
            })
            .boxed()
    }

    /// Staging files that a crash left in the local store (`object_store` names them
    /// `<key>#<n>` and hides them from listings). Returns how many were removed.
    pub async fn sweep_local_staging(&self, older_than_secs: i64) -> anyhow::Result<usize> {
        let Some(root) = self.local_root.clone() else {
            return Ok(0);
        };
        tokio::task::spawn_blocking(move || {
            let cutoff = std::time::SystemTime::now()
                - std::time::Duration::from_secs(older_than_secs.max(0) as u64);
            let mut removed = 0;
            let mut stack = vec![root.join(VERSIONS_PREFIX)];
            while let Some(dir) = stack.pop() {
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for entry in entries.flatten() {
                    let path = entry.path();
                    let Ok(meta) = entry.metadata() else { continue };
                    if meta.is_dir() {
                        stack.push(path);
                    } else if path.to_string_lossy().contains('#')
                        && meta.modified().map(|m| m < cutoff).unwrap_or(false)
                        && std::fs::remove_file(&path).is_ok()
                    {
                        removed += 1;
                    }
                }
            }
            removed
        })
        .await
        .context("staging sweep task")
    }

    /// Makes a finished local blob durable: the file's data and the directory entry the
    /// rename created. Object stores are durable once they acknowledge.
    async fn sync(&self, key: &str) -> anyhow::Result<()> {
        let (Some(root), true) = (&self.local_root, self.fsync) else {
            return Ok(());
        };
        let path = root.join(key);
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::File::open(&path)?.sync_all()?;
            if let Some(dir) = path.parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        })
        .await
        .context("fsync task")?
        .context("fsync of a blob")
    }
}

/// An upload's blob while its bytes arrive.
pub struct BlobWriter {
    inner: BufWriter,
    key: String,
    store: BlobStore,
    written: u64,
}

impl BlobWriter {
    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    pub async fn write(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.inner.write_all(bytes).await?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Completes the blob and, if configured, makes it durable.
    pub async fn finish(mut self) -> anyhow::Result<()> {
        self.inner.shutdown().await?;
        self.store.sync(&self.key).await
    }

    /// Gives up: whatever was staged is removed.
    pub async fn abort(mut self) {
        if let Err(e) = self.inner.abort().await {
            tracing::debug!(blob.key = %self.key, error = %e, "aborting a blob upload");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sharded_by_the_random_tail() {
        assert_eq!(
            blob_key("598821f949c0a938d57563bd"),
            "v/bd/63/598821f949c0a938d57563bd"
        );
    }

    #[tokio::test]
    async fn write_read_range_and_abort() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("file://{}", dir.path().display());
        let store = BlobStore::open(&url, true, 64 * 1024).expect("open");

        let mut w = store.writer("v/aa/bb/one");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        for chunk in data.chunks(7_000) {
            w.write(chunk).await.expect("write");
        }
        assert_eq!(w.written(), data.len() as u64);
        w.finish().await.expect("finish");

        let got = store.get("v/aa/bb/one", Some(10..20)).await.expect("get");
        assert_eq!(got.size, data.len() as u64);
        let bytes: Vec<Bytes> = got.stream.try_collect().await.expect("read");
        assert_eq!(bytes.concat(), &data[10..20]);

        let mut w = store.writer("v/aa/bb/two");
        w.write(&data).await.expect("write");
        w.abort().await;
        assert!(store.get("v/aa/bb/two", None).await.is_err());
        let listed: Vec<_> = store
            .list_version_blobs()
            .try_collect()
            .await
            .expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].0, "v/aa/bb/one");
        assert_eq!(store.sweep_local_staging(0).await.expect("sweep"), 0);
    }
}
