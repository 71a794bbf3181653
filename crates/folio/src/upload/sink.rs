//! Where the bytes of a `file` go: its blob, written once as they arrive.
//!
//! A [`FileSink`] counts the bytes, aborts the moment the limit of the file's class is passed
//! (the class, video or not, is sniffed from the first 8 KiB), keeps the first bytes for
//! probing, and decides the `checks` it can while the file streams. The blob is deleted by a
//! [`BlobGuard`] on every path that does not end in a catalog commit.

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tracing::Instrument;

use super::unproven::Hold;
use crate::config::Limits;
use crate::error::AppError;
use crate::store::blob::{BlobStore, BlobWriter};

/// A blob that is deleted unless the upload that wrote it is committed.
pub struct BlobGuard {
    store: BlobStore,
    key: String,
    armed: bool,
}

impl BlobGuard {
    pub fn new(store: &BlobStore, key: &str) -> Self {
        BlobGuard {
            store: store.clone(),
            key: key.to_owned(),
            armed: true,
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// The catalog now points at the blob: keep it.
    pub fn disarm(mut self) {
        self.armed = false;
    }

    /// Deletes the blob now, before the caller answers (a guard that is only dropped deletes
    /// it in the background, after the response may have gone out). A failure is left to the
    /// sweeper, as on drop.
    pub async fn remove(mut self) {
        self.armed = false;
        if let Err(e) = self.store.delete(&self.key).await {
            tracing::warn!(blob.key = %self.key, error = %e, "could not delete a temporary blob; the sweeper will");
        }
    }
}

impl Drop for BlobGuard {
    // Runs on errors, on client disconnects (the handler future is dropped) and on panics;
    // a crash is covered by the sweeper instead.
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let store = self.store.clone();
        let key = std::mem::take(&mut self.key);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(
                async move {
                    if let Err(e) = store.delete(&key).await {
                        tracing::warn!(blob.key = %key, error = %e, "could not delete the blob of a failed upload; the sweeper will");
                    }
                }
                .in_current_span(),
            );
        }
    }
}

/// The received `file`.
pub struct ReceivedFile {
    pub guard: BlobGuard,
    pub size: u64,
    /// The first bytes, for sniffing and probing.
    pub head: Vec<u8>,
    pub facts: folio_media::MediaFacts,
}

impl ReceivedFile {
    /// Step F2: the media facts from the kept head and the final (sanitised) `fileName`, which
    /// decides text types. The name may arrive after the file, so this runs once the
    /// parameters are parsed, whatever the order of the parts.
    pub fn describe(&mut self, file_name: &str) {
        self.facts = folio_media::probe(&self.head, self.size, file_name);
    }
}

/// `checks` that can be decided while the file streams in (beyond what ImageKit does: an
/// upload that `'file.size' < '1mb'` forbids is refused when byte 1 MiB + 1 arrives, and one
/// with the wrong MIME type as soon as the magic bytes are known, instead of after the body).
///
/// Only expressions whose verdict later fields cannot change are used: either the request is
/// pinned by a v2 token verified before the file (the request must then carry exactly the
/// token's parameters), or the expression reads nothing but facts of the file.
pub struct StreamingChecks {
    checks: folio_contract::Checks,
    /// The pinned parameters, when a token pins them.
    params: Option<folio_contract::UploadParams>,
    root: folio_contract::Folder,
    no_custom_metadata: serde_json::Map<String, serde_json::Value>,
}

impl StreamingChecks {
    /// What the fields seen before the file (and a token verified by then) allow.
    pub(crate) fn before_file(
        fields: &[(String, String)],
        pinned: Option<Vec<(String, String)>>,
    ) -> Option<Self> {
        let from = |checks, params| StreamingChecks {
            checks,
            params,
            root: folio_contract::Folder::root(),
            no_custom_metadata: serde_json::Map::new(),
        };
        if let Some(pinned) = pinned {
            let params = folio_contract::parse_upload_params(&pinned).ok()?;
            let checks = params.checks.clone()?;
            // A pre-transformation changes size and type: checks judge its result (E6).
            if params.transformation.is_some() {
                return None;
            }
            // With a unique suffix still to be drawn, `request.fileName` is not known yet.
            if params.use_unique_file_name && checks.references_file_name() {
                return None;
            }
            return Some(from(checks, Some(params)));
        }
        // Known limit: a `transformation` field sent after the file is not seen here, so
        // file-only checks may still judge the original's size or type while it streams.
        if fields
            .iter()
            .any(|(n, v)| n == folio_contract::field::TRANSFORMATION && !v.is_empty())
        {
            return None;
        }
        let text = fields.iter().find(|(n, _)| n == "checks").map(|(_, v)| v)?;
        let checks = folio_contract::parse_checks(text, &folio_contract::NoCustomFields).ok()?;
        checks.references_only_file().then(|| from(checks, None))
    }

    /// Whether the checks are certainly false for a file of `size` (of type `mime`, once
    /// known).
    pub(crate) fn certainly_fails(
        &self,
        size: folio_contract::SizeKnowledge,
        mime: Option<&str>,
    ) -> bool {
        let mut ctx = match &self.params {
            Some(p) => {
                folio_contract::CheckContext::for_upload(p, &p.file_name, &self.no_custom_metadata)
            }
            None => folio_contract::CheckContext::new("", &self.root, &self.no_custom_metadata),
        };
        ctx.file_size = size;
        ctx.file_mime = mime;
        self.checks.is_certainly_false(&ctx)
    }
}

/// Streams bytes into a blob under the size limit of the file's class.
pub(super) struct FileSink<'a> {
    writer: BlobWriter,
    guard: BlobGuard,
    head: Vec<u8>,
    limits: &'a Limits,
    /// Known once enough bytes arrived to tell a video from anything else.
    limit: Option<u64>,
    checks: Option<StreamingChecks>,
    /// The MIME type the magic bytes gave, once classified; `None` while unknown or when only
    /// the file's name can tell (text types), which arrives separately.
    sniffed_mime: Option<String>,
    /// While the request's credentials are not proven, its bytes count against the
    /// server-wide budget of such bytes.
    unproven: Option<Hold>,
}

/// Bytes after which the file's class (video or not) is decided.
const CLASSIFY_AFTER: usize = 8 * 1024;

impl<'a> FileSink<'a> {
    pub(super) fn new(
        blobs: &BlobStore,
        key: &str,
        limits: &'a Limits,
        checks: Option<StreamingChecks>,
        unproven: Option<Hold>,
    ) -> Self {
        FileSink {
            writer: blobs.writer(key),
            guard: BlobGuard::new(blobs, key),
            head: Vec::new(),
            limits,
            limit: None,
            checks,
            sniffed_mime: None,
            unproven,
        }
    }

    fn classify(&mut self) {
        let facts = folio_media::probe(&self.head, 0, "");
        self.limit = Some(if facts.is_video() {
            self.limits.max_video_size
        } else {
            self.limits.max_file_size
        });
        if facts.mime != "application/octet-stream" {
            self.sniffed_mime = Some(facts.mime);
        }
    }

    pub(super) async fn push(&mut self, bytes: Bytes) -> Result<(), AppError> {
        if self.head.len() < folio_media::SNIFF_LEN {
            let take = bytes.len().min(folio_media::SNIFF_LEN - self.head.len());
            self.head.extend_from_slice(&bytes[..take]);
        }
        if self.limit.is_none() && self.head.len() >= CLASSIFY_AFTER {
            self.classify();
        }
        let limit = self
            .limit
            .unwrap_or(self.limits.max_file_size.max(self.limits.max_video_size));
        let received = self.writer.written() + bytes.len() as u64;
        if received > limit {
            return Err(AppError::FileTooLarge);
        }
        if let Some(checks) = &self.checks {
            let size = folio_contract::SizeKnowledge::AtLeast(received);
            if checks.certainly_fails(size, self.sniffed_mime.as_deref()) {
                return Err(AppError::ChecksFailed);
            }
        }
        if let Some(hold) = &self.unproven {
            hold.grow(bytes.len() as u64)
                .map_err(|_| AppError::UnauthenticatedUploadsBusy)?;
        }
        self.writer.write(bytes).await.map_err(AppError::internal)
    }

    /// Completes the blob. The media facts are the bytes' alone until
    /// [`ReceivedFile::describe`] adds the final name.
    pub(super) async fn finish(mut self) -> Result<ReceivedFile, AppError> {
        if self.limit.is_none() {
            self.classify();
        }
        let size = self.writer.written();
        self.writer.finish().await.map_err(AppError::internal)?;
        let facts = folio_media::probe(&self.head, size, "");
        Ok(ReceivedFile {
            guard: self.guard,
            size,
            head: self.head,
            facts,
        })
    }
}

/// Streams fetched bytes (a `file` given as a URL) into the blob `key` through the same sink
/// as an uploaded file: same size limits, same blob write.
pub(super) async fn receive_stream(
    stream: impl Stream<Item = Result<Bytes, AppError>>,
    blobs: &BlobStore,
    key: &str,
    limits: &Limits,
    file_name_hint: &str,
) -> Result<ReceivedFile, AppError> {
    let mut stream = std::pin::pin!(stream);
    let mut sink = FileSink::new(blobs, key, limits, None, None);
    while let Some(chunk) = stream.next().await {
        sink.push(chunk?).await?;
    }
    let mut file = sink.finish().await?;
    file.describe(file_name_hint);
    Ok(file)
}
