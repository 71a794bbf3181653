//! Blob storage through `object_store`: the local filesystem by default, any S3-compatible
//! store when configured.
//!
//! The server names every blob ([`blob_key`]); a user's file name never reaches a path.
//! A blob is written once, as the upload streams in, and is immutable afterwards: an
//! overwrite creates a new version with a new blob.
//!
//! Uploads to S3 stream through `object_store`'s `BufWriter`: an upload smaller than one buffer
//! is one PUT, a larger one becomes a multipart upload whose parts are sent while the body still
//! arrives (never a full local copy). On the local disk they are written by [`local`], with one
//! blocking hop per buffer and one to finish. A writer that is dropped or fails before it
//! finished aborts its multipart upload (or, locally, removes its staging file). On S3, incomplete
//! multipart uploads that a crash leaves behind are invisible to readers and listings; the
//! bucket's lifecycle rule `AbortIncompleteMultipartUpload` removes them (`docs/deploy.md`),
//! because `object_store` offers no way to list them.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{BackoffConfig, ClientOptions, GetOptions, GetRange, ObjectStore, RetryConfig};
use tokio::io::AsyncWriteExt;
use tracing::Instrument;

use crate::config::{Config, S3Config};

mod append;
mod local;
mod partial;
mod s3_part;

pub use partial::{PartialState, PartialWriter};

/// Prefix under which version blobs live.
const VERSIONS_PREFIX: &str = "v";

/// Prefix under which renditions live, one folder per version: `d/<version id>/<name>`.
pub const RENDITIONS_PREFIX: &str = "d";

/// The folder of a version's renditions (thumbnails, cached transformations).
pub fn renditions_dir(version_id: &str) -> String {
    format!("{RENDITIONS_PREFIX}/{version_id}")
}

/// The version id a rendition key belongs to (`d/<version id>/<name>`).
pub fn rendition_version(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(RENDITIONS_PREFIX)?.strip_prefix('/')?;
    let (version_id, name) = rest.split_once('/')?;
    (!version_id.is_empty() && !name.is_empty()).then_some(version_id)
}

/// The object key of a version's bytes: sharded by the id's random tail so that no directory
/// grows too large (the leading bytes of an id are a timestamp and would all be alike).
pub fn blob_key(version_id: &str) -> String {
    let shard = version_id
        .get(version_id.len().saturating_sub(2)..)
        .filter(|s| s.len() == 2)
        .unwrap_or("00");
    format!("{VERSIONS_PREFIX}/{shard}/{version_id}")
}

/// Whether `key` is the blob key of a version ([`blob_key`] of a well-formed id): the only keys
/// a copy of a library joins onto a folder path.
pub fn is_version_blob_key(key: &str) -> bool {
    key.rsplit('/')
        .next()
        .is_some_and(|id| crate::ids::is_object_id(id) && blob_key(id) == key)
}

/// The 256 shard folders of a local store. Few enough that they exist after the first uploads
/// (a folder per upload would cost a `mkdir` and an uncached directory each time), many enough
/// to keep a folder at a few thousand entries per million files.
fn local_shards() -> impl Iterator<Item = String> {
    (0..=255u8).map(|i| format!("{VERSIONS_PREFIX}/{i:02x}"))
}

#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// Root folder when the store is the local filesystem (for fsync).
    local_root: Option<PathBuf>,
    fsync: bool,
    write_buffer: usize,
    /// S3's multipart calls, for resumable uploads (`partial`); `None` on the local disk.
    multipart: Option<partial::Multipart>,
}

/// A blob's size and, when the store vouches for it, the MD5 of its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobStat {
    pub size: u64,
    /// S3's ETag of an object written in one PUT is the MD5 of its bytes. An ETag of 32 hex
    /// digits may still be something else (objects encrypted with KMS keys), so a caller that
    /// finds it differ must look at the bytes before calling them different.
    pub md5: Option<[u8; 16]>,
}

/// The MD5 an ETag (`"<32 hex digits>"`) stands for; `None` for any other form (a multipart
/// upload's `"<hex>-<parts>"`).
fn etag_md5(etag: &str) -> Option<[u8; 16]> {
    let digits = etag.trim_matches('"');
    let mut md5 = [0u8; 16];
    hex::decode_to_slice(digits, &mut md5).ok()?;
    Some(md5)
}

pub struct BlobObject {
    pub size: u64,
    /// The bytes of the requested range.
    pub range: Range<u64>,
    pub stream: BoxStream<'static, std::io::Result<Bytes>>,
}

impl BlobStore {
    /// The store named by `config.blobs_url()`: `file://PATH` or `s3://BUCKET[/PREFIX]?…`.
    pub fn open(config: &Config) -> anyhow::Result<Self> {
        Self::open_url(&config.blobs_url(), config)
    }

    /// The store `url` names, with the settings of `config` (`folio migrate-store` opens a
    /// second store besides the library's own).
    pub fn open_url(url: &str, config: &Config) -> anyhow::Result<Self> {
        if url.starts_with("file://") {
            Self::open_local(url, config.storage.fsync, config.storage.write_buffer_bytes)
        } else if url.starts_with("s3://") {
            Self::open_s3(url, &config.s3)
        } else {
            anyhow::bail!(
                "unsupported blob store URL (expected file://… or s3://…): {}",
                super::redact_url(url)
            )
        }
    }

    /// `url` is `file://PATH`; the folder is created.
    pub fn open_local(url: &str, fsync: bool, write_buffer: usize) -> anyhow::Result<Self> {
        let Some(path) = url.strip_prefix("file://") else {
            anyhow::bail!("unsupported blob store URL (expected file://…): {url}");
        };
        let root = PathBuf::from(path);
        std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        let root = root.canonicalize()?;
        // Made (and made durable) up front, so that no upload creates a folder whose entry a
        // crash could lose after the upload was acknowledged.
        for shard in local_shards().chain([partial::PARTIAL_PREFIX.to_owned()]) {
            std::fs::create_dir_all(root.join(&shard))
                .with_context(|| format!("creating {}", root.join(&shard).display()))?;
        }
        if fsync {
            for dir in [root.join(VERSIONS_PREFIX), root.clone()] {
                std::fs::File::open(&dir)
                    .and_then(|d| d.sync_all())
                    .with_context(|| format!("syncing {}", dir.display()))?;
            }
        }
        let store = LocalFileSystem::new_with_prefix(&root)?;
        Ok(BlobStore {
            store: Arc::new(store),
            local_root: Some(root),
            fsync,
            write_buffer,
            multipart: None,
        })
    }

    /// `url` is `s3://BUCKET[/PREFIX][?endpoint=URL&region=NAME&allow_http=true]`.
    ///
    /// * `endpoint`: an S3-compatible service (MinIO, Garage, Ceph, R2, …); absent, AWS itself.
    ///   Requests use path-style addressing (`ENDPOINT/BUCKET/KEY`), which every such service
    ///   accepts.
    /// * `region`: the signing region (default `us-east-1`, or `AWS_REGION`).
    /// * `allow_http`: plain HTTP to the endpoint; implied for loopback endpoints.
    /// * `PREFIX`: every key lives below it, so that one bucket can hold several deployments.
    ///
    /// Credentials come from `s3.access_key_id` / `s3.secret_access_key`, else the usual
    /// `AWS_*` variables (or the instance's role).
    pub fn open_s3(url: &str, settings: &S3Config) -> anyhow::Result<Self> {
        let target = S3Target::parse(url)?;
        let client = ClientOptions::new()
            .with_timeout(std::time::Duration::from_secs(
                settings.request_timeout_secs.max(1),
            ))
            .with_connect_timeout(std::time::Duration::from_secs(
                settings.connect_timeout_secs.max(1),
            ))
            .with_allow_http(target.allow_http);
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&target.bucket)
            .with_virtual_hosted_style_request(false)
            .with_client_options(client)
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: settings.max_retries,
                retry_timeout: std::time::Duration::from_secs(settings.retry_timeout_secs),
            });
        if let Some(region) = &target.region {
            builder = builder.with_region(region);
        } else if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            builder = builder.with_region("us-east-1");
        }
        if let Some(endpoint) = &target.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if !settings.access_key_id.is_empty() {
            builder = builder
                .with_access_key_id(&settings.access_key_id)
                .with_secret_access_key(&settings.secret_access_key);
        }
        let settings_of_parts = builder.clone();
        let s3 = Arc::new(builder.build().context("configuring the S3 blob store")?);
        let plain: Arc<dyn ObjectStore> = s3.clone();
        let store: Arc<dyn ObjectStore> = match &target.prefix {
            Some(prefix) => Arc::new(PrefixStore::new(plain, prefix.as_str())),
            None => plain,
        };
        let streamer = s3_part::PartStreamer::for_builder(
            &settings_of_parts,
            s3.credentials().clone(),
            std::time::Duration::from_secs(settings.connect_timeout_secs.max(1)),
            std::time::Duration::from_secs(settings.request_timeout_secs.max(1)),
        )?;
        let multipart = partial::Multipart {
            store: s3,
            streamer: streamer.map(Arc::new),
            prefix: target.prefix.clone(),
        };
        Ok(BlobStore {
            store,
            local_root: None,
            // An acknowledged PUT or completed multipart upload is durable on S3.
            fsync: false,
            write_buffer: settings.part_size_bytes,
            multipart: Some(multipart),
        })
    }

    /// S3: resumable uploads' parts streamed while their bytes arrived, since the start: those
    /// S3 took as they came, and those sent again from memory (their request failed). `None` where
    /// parts are not streamed (the local disk, or an S3 configuration `s3_part` leaves alone).
    pub fn streamed_parts(&self) -> Option<(u64, u64)> {
        let streamer = self.multipart.as_ref()?.streamer.as_ref()?;
        Some(streamer.counts())
    }

    /// Whether the store answers (health checks): a HEAD of a key that is never written.
    pub async fn ping(&self) -> anyhow::Result<()> {
        match self.store.head(&ObjectPath::from("healthz/probe")).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Starts writing a new blob. Until [`BlobWriter::finish`] succeeds nothing is visible
    /// under `key`; a writer dropped unfinished leaves no object behind.
    pub fn writer(&self, key: &str) -> BlobWriter {
        let sink = match &self.local_root {
            Some(root) => Sink::Local(local::LocalWriter::new(
                root.join(key),
                self.fsync,
                self.write_buffer,
            )),
            None => Sink::Object(
                BufWriter::with_capacity(
                    Arc::clone(&self.store),
                    ObjectPath::from(key),
                    self.write_buffer,
                )
                // Two parts in flight keep the network busy while the next part fills, and
                // bound the memory of one upload to about three buffers.
                .with_max_concurrency(2),
            ),
        };
        BlobWriter {
            inner: Some(sink),
            key: key.to_owned(),
            written: 0,
        }
    }

    /// The bytes of `range` of a blob, read whole (for a few hundred KiB at most).
    pub async fn read_range(&self, key: &str, range: Range<u64>) -> anyhow::Result<Vec<u8>> {
        let bytes = self.store.get_range(&ObjectPath::from(key), range).await?;
        Ok(bytes.to_vec())
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

    /// A whole blob as a stream, or `None` when it does not exist.
    pub async fn get_if_exists(&self, key: &str) -> anyhow::Result<Option<BlobObject>> {
        match self.get(key, None).await {
            Ok(object) => Ok(Some(object)),
            Err(e)
                if matches!(
                    e.downcast_ref::<object_store::Error>(),
                    Some(object_store::Error::NotFound { .. })
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// What the store says of a blob without sending its bytes, or `None` when it does not
    /// exist.
    pub async fn stat(&self, key: &str) -> anyhow::Result<Option<BlobStat>> {
        match self.store.head(&ObjectPath::from(key)).await {
            Ok(meta) => Ok(Some(BlobStat {
                size: meta.size,
                // The local disk's ETag is made of the file's inode and times.
                md5: if self.local_root.is_some() {
                    None
                } else {
                    meta.e_tag.as_deref().and_then(etag_md5)
                },
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The size of a blob, or `None` when it does not exist.
    pub async fn size(&self, key: &str) -> anyhow::Result<Option<u64>> {
        match self.store.head(&ObjectPath::from(key)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// A small object whole (renditions), or `None` when it does not exist.
    pub async fn read_all(&self, key: &str) -> anyhow::Result<Option<Bytes>> {
        match self.store.get(&ObjectPath::from(key)).await {
            Ok(result) => Ok(Some(result.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// A whole object of at most `limit` bytes (the original of a render), or `None` when it
    /// does not exist. A larger object is an error, found from its size before any byte is
    /// read, and the read stops at the limit in any case.
    pub async fn read_bounded(&self, key: &str, limit: u64) -> anyhow::Result<Option<Bytes>> {
        let result = match self.store.get(&ObjectPath::from(key)).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if result.meta.size > limit {
            anyhow::bail!("{key} has {} bytes, more than {limit}", result.meta.size);
        }
        let mut out = Vec::with_capacity(usize::try_from(result.meta.size).unwrap_or(0));
        let mut stream = result.into_stream();
        while let Some(chunk) = stream.try_next().await? {
            if (out.len() + chunk.len()) as u64 > limit {
                anyhow::bail!("{key} grew beyond {limit} bytes while it was read");
            }
            out.extend_from_slice(&chunk);
        }
        Ok(Some(Bytes::from(out)))
    }

    /// How many objects directly under the folder `dir` have a name starting with
    /// `name_prefix` (one listing; the same answer for every instance that shares the store).
    pub async fn count_named(&self, dir: &str, name_prefix: &str) -> anyhow::Result<usize> {
        let mut listing = self.store.list(Some(&ObjectPath::from(dir)));
        let mut count = 0;
        while let Some(meta) = listing.try_next().await? {
            if meta
                .location
                .filename()
                .is_some_and(|name| name.starts_with(name_prefix))
            {
                count += 1;
            }
        }
        Ok(count)
    }

    /// Writes a small object in one piece (renditions derived from a version).
    pub async fn put(&self, key: &str, bytes: Bytes) -> anyhow::Result<()> {
        self.store.put(&ObjectPath::from(key), bytes.into()).await?;
        Ok(())
    }

    /// Copies a blob inside the store (S3 `CopyObject`, a local hard link to a new name): the
    /// bytes never pass through this process. Blobs are immutable, so a shared local inode is
    /// a true copy.
    pub async fn copy(&self, from: &str, to: &str) -> anyhow::Result<()> {
        self.store
            .copy(&ObjectPath::from(from), &ObjectPath::from(to))
            .await?;
        self.sync(to).await
    }

    /// Deletes every object under the folder `dir` (a version's renditions).
    pub async fn delete_dir(&self, dir: &str) -> anyhow::Result<usize> {
        let keys: Vec<ObjectPath> = self
            .store
            .list(Some(&ObjectPath::from(dir)))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await?;
        for key in &keys {
            match self.store.delete(key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(keys.len())
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

    /// Every rendition (`d/<version id>/<name>`) with its last-modified time (Unix seconds).
    pub fn list_rendition_blobs(&self) -> BoxStream<'static, anyhow::Result<(String, i64)>> {
        self.store
            .list(Some(&ObjectPath::from(RENDITIONS_PREFIX)))
            .map(|item| {
                let meta = item?;
                Ok((meta.location.to_string(), meta.last_modified.timestamp()))
            })
            .boxed()
    }

    /// Every key in the store (tests and tools; a production bucket can be large).
    pub async fn list_all_keys(&self) -> anyhow::Result<Vec<String>> {
        let keys = self
            .store
            .list(None)
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await?;
        Ok(keys)
    }

    /// Staging files that a crash left in the local store (uploads write `<key>#stage`,
    /// `object_store` writes `<key>#<n>`; listings skip both). Returns how many were removed.
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

/// Where an `s3://` URL points.
#[derive(Debug, PartialEq, Eq)]
struct S3Target {
    bucket: String,
    prefix: Option<String>,
    endpoint: Option<String>,
    region: Option<String>,
    allow_http: bool,
}

impl S3Target {
    fn parse(url: &str) -> anyhow::Result<S3Target> {
        let rest = url
            .strip_prefix("s3://")
            .context("blob store URL must start with s3://")?;
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        anyhow::ensure!(!bucket.is_empty(), "s3:// URL without a bucket name");
        let prefix = prefix.trim_matches('/');
        let mut target = S3Target {
            bucket: bucket.to_owned(),
            prefix: (!prefix.is_empty()).then(|| prefix.to_owned()),
            endpoint: None,
            region: None,
            allow_http: false,
        };
        let mut allow_http = None;
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "endpoint" => target.endpoint = Some(value.trim_end_matches('/').to_owned()),
                "region" => target.region = Some(value.into_owned()),
                "allow_http" => {
                    allow_http = Some(
                        value
                            .parse::<bool>()
                            .context("s3:// URL: allow_http must be true or false")?,
                    )
                }
                other => anyhow::bail!(
                    "s3:// URL: unknown parameter {other} (expected endpoint, region, allow_http)"
                ),
            }
        }
        let http_endpoint = target
            .endpoint
            .as_deref()
            .and_then(|e| e.strip_prefix("http://"));
        target.allow_http = match (http_endpoint, allow_http) {
            (_, Some(explicit)) => explicit,
            (Some(host), None) => is_loopback(host),
            (None, None) => false,
        };
        if http_endpoint.is_some() && !target.allow_http {
            anyhow::bail!(
                "s3:// URL: a plain-HTTP endpoint that is not on this machine needs allow_http=true"
            );
        }
        Ok(target)
    }
}

/// Whether `host[:port]…` names this machine.
fn is_loopback(authority: &str) -> bool {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        authority.split([':', '/']).next().unwrap_or_default()
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// An upload's blob while its bytes arrive.
pub struct BlobWriter {
    /// `None` once finished or aborted.
    inner: Option<Sink>,
    key: String,
    written: u64,
}

impl BlobWriter {
    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    pub async fn write(&mut self, bytes: Bytes) -> anyhow::Result<()> {
        let len = bytes.len() as u64;
        match self.inner.as_mut().context("blob writer already closed")? {
            Sink::Object(writer) => writer.put(bytes).await?,
            Sink::Local(writer) => writer.write(bytes).await?,
        }
        self.written += len;
        Ok(())
    }

    /// Completes the blob and, if configured, makes it durable.
    pub async fn finish(mut self) -> anyhow::Result<()> {
        match self.inner.take().context("blob writer already closed")? {
            // If the completion itself fails, the writer cannot be aborted any more
            // (object_store has consumed the upload); the bucket's lifecycle rule takes what
            // is left. An acknowledged upload is durable.
            Sink::Object(mut writer) => Ok(writer.shutdown().await?),
            Sink::Local(writer) => writer.finish().await,
        }
    }

    /// Gives up: whatever was staged is removed.
    pub async fn abort(mut self) {
        match self.inner.take() {
            Some(Sink::Object(mut writer)) => {
                if let Err(e) = writer.abort().await {
                    tracing::debug!(blob.key = %self.key, error = %e, "aborting a blob upload");
                }
            }
            Some(Sink::Local(writer)) => writer.abort().await,
            None => {}
        }
    }
}

/// Where a [`BlobWriter`]'s bytes go.
enum Sink {
    Object(BufWriter),
    Local(local::LocalWriter),
}

impl Drop for BlobWriter {
    // A writer dropped unfinished (an error, a client that went away, a panic) aborts its
    // multipart upload in the background: parts already sent to S3 (or a local staging file)
    // are removed instead of waiting for a lifecycle rule or the sweeper.
    fn drop(&mut self) {
        // A local writer cleans up after itself when dropped.
        let Some(Sink::Object(mut inner)) = self.inner.take() else {
            return;
        };
        let key = std::mem::take(&mut self.key);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(
                async move {
                    if let Err(e) = inner.abort().await {
                        tracing::debug!(blob.key = %key, error = %e, "aborting a blob upload");
                    }
                }
                .in_current_span(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_single_part_etag_stands_for_an_md5() {
        let md5 = etag_md5("\"9e107d9d372bb6826bd81d3542a419d6\"").expect("an MD5");
        assert_eq!(hex::encode(md5), "9e107d9d372bb6826bd81d3542a419d6");
        assert_eq!(etag_md5("\"9e107d9d372bb6826bd81d3542a419d6-3\""), None);
        assert_eq!(etag_md5("1a2b-5f3c-19000"), None);
    }

    #[test]
    fn rendition_keys_name_their_version() {
        assert_eq!(rendition_version("d/abc/tr-61"), Some("abc"));
        assert_eq!(rendition_version("d/abc/x/y"), Some("abc"));
        assert_eq!(rendition_version("d/abc"), None);
        assert_eq!(rendition_version("d//x"), None);
        assert_eq!(rendition_version("v/ab/abc"), None);
        assert_eq!(renditions_dir("abc"), "d/abc");
    }

    #[test]
    fn keys_are_sharded_by_the_random_tail() {
        assert_eq!(
            blob_key("598821f949c0a938d57563bd"),
            "v/bd/598821f949c0a938d57563bd"
        );
    }

    #[tokio::test]
    async fn write_read_range_and_abort() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("file://{}", dir.path().display());
        let store = BlobStore::open_local(&url, true, 64 * 1024).expect("open");

        let mut w = store.writer("v/aa/bb/one");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        for chunk in data.chunks(7_000) {
            w.write(Bytes::copy_from_slice(chunk)).await.expect("write");
        }
        assert_eq!(w.written(), data.len() as u64);
        w.finish().await.expect("finish");

        let got = store.get("v/aa/bb/one", Some(10..20)).await.expect("get");
        assert_eq!(got.size, data.len() as u64);
        let bytes: Vec<Bytes> = got.stream.try_collect().await.expect("read");
        assert_eq!(bytes.concat(), &data[10..20]);

        let mut w = store.writer("v/aa/bb/two");
        w.write(Bytes::copy_from_slice(&data)).await.expect("write");
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

    /// What both stores must do: a multipart-sized blob streamed in small writes, ranged reads,
    /// listing, aborts (explicit and by drop) that leave nothing, deletes, pings.
    #[tokio::test]
    async fn a_large_durable_blob_is_whole_after_its_background_flushes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("file://{}", dir.path().display());
        let store = BlobStore::open_local(&url, true, 64 * 1024).expect("open");
        // Past two background flushes (one every 8 MiB), ending mid-buffer.
        let data: Vec<u8> = (0..(20 << 20) + 777u32).map(|i| (i % 253) as u8).collect();
        let mut w = store.writer("v/ab/large");
        for chunk in data.chunks(60_000) {
            w.write(Bytes::copy_from_slice(chunk)).await.expect("write");
        }
        w.finish().await.expect("finish");
        let stored = store.read_all("v/ab/large").await.expect("read");
        assert!(stored.as_deref() == Some(&data[..]));
        assert_eq!(store.sweep_local_staging(0).await.expect("sweep"), 0);
    }

    #[tokio::test]
    async fn local_partial_data_survives_a_checkpoint_never_recorded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("file://{}", dir.path().display());
        let store = BlobStore::open_local(&url, true, 64 * 1024).expect("open");
        // Steps of a partial file's write buffer (at least 1 MiB, whatever the blobs' is): full
        // writes, each starting its write-back, and checkpoints in the middle of one.
        partial_suite(store, 1 << 20).await;
    }

    /// A resumable upload's partial data: a checkpoint whose state the catalog never recorded
    /// (a crash, a lost lease) is followed by a request that resumes from the state before it;
    /// the blob holds exactly the bytes sent, and no partial data outlives the upload.
    async fn partial_suite(store: BlobStore, part: usize) {
        let data: Vec<u8> = (0..(part * 3 + 7_777) as u32)
            .map(|i| (i % 253) as u8)
            .collect();
        let (name, key) = ("0123456789abcdef", blob_key("partialsuite00aa"));
        let begun = store.begin_partial(name, &key).await.expect("begin");

        // The first request: past one part, checkpointed and recorded.
        let recorded_at = part + 1_000;
        let mut w = store
            .open_partial(name, &key, begun, 0)
            .await
            .expect("open");
        append(&mut w, &data[..recorded_at]).await;
        let recorded = w.checkpoint().await.expect("checkpoint");
        w.recorded().await;
        assert_eq!(w.offset(), recorded_at as u64);

        // The second: past another part and checkpointed, but its state is never recorded.
        append(&mut w, &data[recorded_at..recorded_at + part + 500]).await;
        w.checkpoint().await.expect("checkpoint");
        drop(w);

        // The third resumes from the recorded state and sends the rest.
        let mut w = store
            .open_partial(name, &key, recorded, recorded_at as u64)
            .await
            .expect("reopen");
        append(&mut w, &data[recorded_at..]).await;
        w.complete(&key).await.expect("complete");
        let got = store.read_all(&key).await.expect("read").expect("the blob");
        assert!(got[..] == data[..], "the blob is the bytes sent");
        assert!(!partial_data_left(&store).await, "no partial data is left");

        // An upload given up: its partial data goes.
        let begun = store.begin_partial(name, &key).await.expect("begin");
        let mut w = store
            .open_partial(name, &key, begun, 0)
            .await
            .expect("open");
        append(&mut w, &data[..part + 10]).await;
        let state = w.checkpoint().await.expect("checkpoint");
        drop(w);
        store
            .discard_partial(name, &key, &state)
            .await
            .expect("discard");
        assert!(
            !partial_data_left(&store).await,
            "nothing is left of a discarded upload"
        );
    }

    /// Requests that say their length (S3 streams their parts), one of them cut short.
    async fn streamed_partial_suite(store: BlobStore, part: usize) {
        let data: Vec<u8> = (0..(part * 3 + 7_777) as u32)
            .map(|i| (i % 241) as u8)
            .collect();
        let (name, key) = ("fedcba9876543210", blob_key("streamedsuite0bb"));
        let begun = store.begin_partial(name, &key).await.expect("begin");

        // A request of a part and a bit: one part, no tail.
        let first = part + 1_000;
        let mut w = store
            .open_partial(name, &key, begun, 0)
            .await
            .expect("open");
        w.expect(first as u64, false);
        append(&mut w, &data[..first]).await;
        let state = w.checkpoint().await.expect("checkpoint");
        w.recorded().await;
        assert_eq!((state.parts.len(), state.parts_bytes), (1, first as u64));

        // A request cut half-way through its part: what arrived is the tail.
        let cut = first + part / 2;
        w.expect((part + 5_000) as u64, false);
        append(&mut w, &data[first..cut]).await;
        let state = w.checkpoint().await.expect("checkpoint");
        w.recorded().await;
        drop(w);
        assert_eq!((state.parts.len(), state.parts_bytes), (1, first as u64));

        // The last request: the tail and its bytes as parts.
        let mut w = store
            .open_partial(name, &key, state, cut as u64)
            .await
            .expect("reopen");
        w.expect((data.len() - cut) as u64, true);
        append(&mut w, &data[cut..]).await;
        w.complete(&key).await.expect("complete");
        let got = store.read_all(&key).await.expect("read").expect("the blob");
        assert!(got[..] == data[..], "the blob is the bytes sent");
        assert!(!partial_data_left(&store).await, "no partial data is left");
    }

    async fn partial_data_left(store: &BlobStore) -> bool {
        let keys = store.list_all_keys().await.expect("list");
        keys.iter().any(|k| k.starts_with("r/"))
    }

    async fn blob_suite(store: BlobStore, part: usize) {
        store.ping().await.expect("ping");
        let data: Vec<u8> = (0..(part * 2 + 123_457) as u32)
            .map(|i| (i % 251) as u8)
            .collect();
        let mut w = store.writer("v/aa/bb/big");
        for chunk in data.chunks(64 * 1024 + 3) {
            w.write(Bytes::copy_from_slice(chunk)).await.expect("write");
        }
        w.finish().await.expect("finish");
        let got = store
            .get("v/aa/bb/big", Some(part as u64 - 5..part as u64 + 5))
            .await
            .expect("get");
        assert_eq!(got.size, data.len() as u64);
        assert_eq!(got.range, part as u64 - 5..part as u64 + 5);
        let bytes: Vec<Bytes> = got.stream.try_collect().await.expect("read");
        assert_eq!(bytes.concat(), &data[part - 5..part + 5]);
        let whole: Vec<Bytes> = store
            .get("v/aa/bb/big", None)
            .await
            .expect("get")
            .stream
            .try_collect()
            .await
            .expect("read");
        assert!(whole.concat() == data);

        let mut small = store.writer("v/aa/cc/small");
        small
            .write(Bytes::copy_from_slice(b"hello"))
            .await
            .expect("write");
        small.finish().await.expect("finish");
        // An empty chunk (a parser may hand one over) writes nothing; an empty blob is a blob.
        let mut empty = store.writer("v/aa/cc/empty");
        empty.write(Bytes::new()).await.expect("write nothing");
        empty.finish().await.expect("finish an empty blob");

        // More than a part written, then given up: nothing becomes visible.
        let mut aborted = store.writer("v/aa/dd/aborted");
        aborted
            .write(Bytes::copy_from_slice(&data[..part + 10]))
            .await
            .expect("write");
        aborted.abort().await;
        let mut dropped = store.writer("v/aa/dd/dropped");
        dropped
            .write(Bytes::copy_from_slice(&data[..part + 10]))
            .await
            .expect("write");
        drop(dropped);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;

        let mut listed: Vec<String> = store
            .list_version_blobs()
            .map_ok(|(key, _)| key)
            .try_collect()
            .await
            .expect("list");
        listed.sort();
        assert_eq!(listed, ["v/aa/bb/big", "v/aa/cc/empty", "v/aa/cc/small"]);
        assert_eq!(
            store.read_all("v/aa/cc/empty").await.expect("read"),
            Some(Bytes::new())
        );
        assert!(store.get("v/aa/dd/aborted", None).await.is_err());
        assert_eq!(
            store.read_all("v/aa/cc/small").await.expect("read"),
            Some(Bytes::from_static(b"hello"))
        );
        assert_eq!(store.read_all("v/aa/cc/none").await.expect("read"), None);

        // Bounded whole reads (the original of a render).
        assert_eq!(
            store.read_bounded("v/aa/cc/small", 5).await.expect("read"),
            Some(Bytes::from_static(b"hello"))
        );
        assert!(store.read_bounded("v/aa/cc/small", 4).await.is_err());
        assert!(store.read_bounded("v/aa/bb/big", 1000).await.is_err());
        assert_eq!(
            store.read_bounded("v/aa/cc/none", 5).await.expect("read"),
            None
        );

        // Counting renditions of a version by name, one folder only.
        for key in [
            "d/ver1/tr-61",
            "d/ver1/tr-62",
            "d/ver1/ik_ml_thumbnail",
            "d/ver10/tr-61",
        ] {
            store.put(key, Bytes::from_static(b"r")).await.expect("put");
        }
        assert_eq!(store.count_named("d/ver1", "tr-").await.expect("count"), 2);
        assert_eq!(store.count_named("d/ver10", "tr-").await.expect("count"), 1);
        assert_eq!(store.count_named("d/none", "tr-").await.expect("count"), 0);

        // A copy inside the store is a blob of its own: it outlives the original.
        store
            .copy("v/aa/cc/small", "v/aa/cc/copied")
            .await
            .expect("copy");
        assert!(store.copy("v/aa/cc/none", "v/aa/cc/x").await.is_err());

        // Renditions are listed by their own prefix and deleted by version folder.
        let mut renditions: Vec<String> = store
            .list_rendition_blobs()
            .map_ok(|(key, _)| key)
            .try_collect()
            .await
            .expect("list");
        renditions.sort();
        assert_eq!(
            renditions,
            [
                "d/ver1/ik_ml_thumbnail",
                "d/ver1/tr-61",
                "d/ver1/tr-62",
                "d/ver10/tr-61"
            ]
        );
        assert_eq!(
            store
                .delete_dir(&renditions_dir("ver1"))
                .await
                .expect("delete"),
            3
        );
        assert_eq!(store.count_named("d/ver10", "tr-").await.expect("count"), 1);

        store.delete("v/aa/cc/small").await.expect("delete");
        assert_eq!(
            store.read_all("v/aa/cc/copied").await.expect("read"),
            Some(Bytes::from_static(b"hello"))
        );
        store
            .delete("v/aa/cc/small")
            .await
            .expect("deleting twice is fine");
        assert_eq!(store.read_all("v/aa/cc/small").await.expect("read"), None);
    }

    #[tokio::test]
    async fn local_store_passes_the_blob_suite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("file://{}", dir.path().display());
        let store = BlobStore::open_local(&url, false, 256 * 1024).expect("open");
        blob_suite(store.clone(), 256 * 1024).await;
        assert_eq!(
            store.sweep_local_staging(0).await.expect("sweep"),
            0,
            "no staging left"
        );
    }

    /// The S3 server of `scripts/s3-server.sh` (`scripts/test.sh` always starts one), and a
    /// configuration for it with the smallest parts.
    pub(super) fn test_s3() -> Option<(crate::store::testing::TestS3, Config)> {
        let Some(s3) = crate::store::testing::TestS3::from_env() else {
            eprintln!("FOLIO_TEST_S3_ENDPOINT is not set: run scripts/s3-server.sh start");
            return None;
        };
        let mut config = Config::default();
        s3.configure(&mut config);
        config.s3.part_size_bytes = crate::config::S3_MIN_PART_SIZE;
        Some((s3, config))
    }

    /// Appends `bytes` in requests' worth of small writes.
    async fn append(w: &mut PartialWriter, bytes: &[u8]) {
        for chunk in bytes.chunks(10_000) {
            w.write(Bytes::copy_from_slice(chunk)).await.expect("write");
        }
    }

    #[tokio::test]
    async fn s3_store_passes_the_blob_suite() {
        let Some((s3, config)) = test_s3() else {
            return;
        };
        let store = BlobStore::open_s3(&s3.fresh_url(), &config.s3).expect("open");
        blob_suite(store.clone(), crate::config::S3_MIN_PART_SIZE).await;
        partial_suite(store.clone(), crate::config::S3_MIN_PART_SIZE).await;
        let before = store.streamed_parts().expect("s3s-fs takes streamed parts");
        streamed_partial_suite(store.clone(), crate::config::S3_MIN_PART_SIZE).await;
        let after = store.streamed_parts().expect("streamed parts");
        // The first request's part, and the last request's two; the cut one is not counted.
        assert_eq!((after.0 - before.0, after.1 - before.1), (3, 0));
    }

    #[tokio::test]
    async fn parts_whose_stream_fails_are_sent_again_from_memory() {
        let Some((s3, config)) = test_s3() else {
            return;
        };
        let mut store = BlobStore::open_s3(&s3.fresh_url(), &config.s3).expect("open");
        // Streamed parts signed with a wrong secret: S3 refuses every one.
        let mut wrong = config.s3.clone();
        wrong.secret_access_key = "not-the-secret".into();
        let refused = BlobStore::open_s3(&s3.fresh_url(), &wrong)
            .expect("open")
            .multipart
            .and_then(|m| m.streamer);
        assert!(refused.is_some(), "s3s-fs gets streamed parts");
        if let Some(multipart) = store.multipart.as_mut() {
            multipart.streamer = refused;
        }
        streamed_partial_suite(store.clone(), crate::config::S3_MIN_PART_SIZE).await;
        assert_eq!(store.streamed_parts(), Some((0, 3)), "all three sent again");
        // Three failures in a row pause streaming: the next upload's parts go whole.
        streamed_partial_suite(store.clone(), crate::config::S3_MIN_PART_SIZE).await;
        assert_eq!(
            store.streamed_parts(),
            Some((0, 3)),
            "none streamed while paused"
        );
    }

    #[tokio::test]
    async fn an_unreachable_s3_fails_fast_and_pings_fail() {
        let mut config = Config::default();
        config.s3.max_retries = 1;
        config.s3.retry_timeout_secs = 1;
        config.s3.connect_timeout_secs = 1;
        // a port nothing listens on
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let url = format!("s3://nowhere?endpoint=http://127.0.0.1:{port}");
        config.s3.access_key_id = "k".into();
        config.s3.secret_access_key = "s".into();
        let store = BlobStore::open_s3(&url, &config.s3).expect("open is lazy");
        let started = std::time::Instant::now();
        assert!(store.ping().await.is_err());
        let mut w = store.writer("v/aa/bb/x");
        w.write(Bytes::from_static(b"abc")).await.expect("buffered");
        assert!(w.finish().await.is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn s3_urls_name_bucket_prefix_endpoint_and_region() {
        let t =
            S3Target::parse("s3://media/prod/eu?endpoint=http://127.0.0.1:9000/&region=eu-west-1")
                .expect("parse");
        assert_eq!(
            t,
            S3Target {
                bucket: "media".into(),
                prefix: Some("prod/eu".into()),
                endpoint: Some("http://127.0.0.1:9000".into()),
                region: Some("eu-west-1".into()),
                allow_http: true,
            }
        );
        let t = S3Target::parse("s3://media").expect("parse");
        assert_eq!((t.prefix, t.endpoint, t.allow_http), (None, None, false));
        assert!(S3Target::parse("s3://media?endpoint=http://minio.internal:9000").is_err());
        assert!(
            S3Target::parse("s3://media?endpoint=http://minio.internal:9000&allow_http=true")
                .expect("parse")
                .allow_http
        );
        assert!(
            S3Target::parse("s3://media?endpoint=http://[::1]:9000")
                .expect("parse")
                .allow_http
        );
        assert!(
            S3Target::parse("s3://media?endpoint=http://localhost:9000")
                .expect("parse")
                .allow_http
        );
        assert!(S3Target::parse("s3://?region=x").is_err());
        assert!(S3Target::parse("s3://media?secret=x").is_err());
    }
}
