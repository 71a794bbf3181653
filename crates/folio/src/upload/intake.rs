//! Intake: reads the request body once, field by field.
//!
//! Text fields are collected in arrival order under limits on their count and size. The
//! `file` part (binary, or base64 text) is streamed straight into its final blob through a
//! [`FileSink`] that counts bytes, aborts the moment the size limit is passed, and keeps the
//! first bytes for sniffing. Memory per upload is bounded by the blob writer's buffer, not by
//! the file's size. When the `file` part begins, the authenticator gets a chance to refuse the
//! request before any of the file is read.

use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::auth::Authenticator;
use super::base64_stream::Base64Decoder;
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
            handle.spawn(async move {
                if let Err(e) = store.delete(&key).await {
                    tracing::warn!(blob.key = %key, error = %e, "could not delete the blob of a failed upload; the sweeper will");
                }
            });
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

pub struct Received {
    pub fields: Vec<(String, String)>,
    pub file: FilePart,
}

pub enum FilePart {
    Absent,
    Received(Box<ReceivedFile>),
    /// Present but unusable (undecodable base64, an overlong URL). Reported after authentication
    /// and the parameter checks, as step F1 of spec §2.5 says, not when it is seen.
    Unusable(AppError),
    /// An http(s) URL, fetched (by [`super::fetch`]) only after authentication and the parameter
    /// checks have passed.
    Url(String),
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
    fn before_file(
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

    fn certainly_fails(&self, received: u64, mime: Option<&str>) -> bool {
        let mut ctx = match &self.params {
            Some(p) => {
                folio_contract::CheckContext::for_upload(p, &p.file_name, &self.no_custom_metadata)
            }
            None => folio_contract::CheckContext::new("", &self.root, &self.no_custom_metadata),
        };
        ctx.file_size = folio_contract::SizeKnowledge::AtLeast(received);
        ctx.file_mime = mime;
        self.checks.is_certainly_false(&ctx)
    }
}

/// Streams bytes into a blob under the size limit of the file's class.
struct FileSink<'a> {
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
}

/// Bytes after which the file's class (video or not) is decided.
const CLASSIFY_AFTER: usize = 8 * 1024;

impl<'a> FileSink<'a> {
    fn new(
        blobs: &BlobStore,
        key: &str,
        limits: &'a Limits,
        checks: Option<StreamingChecks>,
    ) -> Self {
        FileSink {
            writer: blobs.writer(key),
            guard: BlobGuard::new(blobs, key),
            head: Vec::new(),
            limits,
            limit: None,
            checks,
            sniffed_mime: None,
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

    async fn push(&mut self, bytes: &[u8]) -> Result<(), AppError> {
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
            if checks.certainly_fails(received, self.sniffed_mime.as_deref()) {
                return Err(AppError::ChecksFailed);
            }
        }
        self.writer.write(bytes).await.map_err(AppError::internal)
    }

    async fn finish(mut self, file_name_hint: &str) -> Result<ReceivedFile, AppError> {
        if self.limit.is_none() {
            self.classify();
        }
        let size = self.writer.written();
        self.writer.finish().await.map_err(AppError::internal)?;
        let facts = folio_media::probe(&self.head, size, file_name_hint);
        Ok(ReceivedFile {
            guard: self.guard,
            size,
            head: self.head,
            facts,
        })
    }
}

/// Wraps the body so that a client that stops sending for `idle` fails the request instead of
/// holding it open; a slow but steady upload is never cut off.
fn idle_limited(
    body: Body,
    idle: Duration,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    futures_util::stream::unfold(Some(body.into_data_stream()), move |state| async move {
        let mut stream = state?;
        match tokio::time::timeout(idle, stream.next()).await {
            Ok(Some(Ok(bytes))) => Some((Ok(bytes), Some(stream))),
            Ok(Some(Err(e))) => Some((Err(std::io::Error::other(e)), None)),
            Ok(None) => None,
            Err(_) => Some((
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "request body idle",
                )),
                None,
            )),
        }
    })
}

fn map_multer(err: multer::Error, in_file: bool) -> AppError {
    match err {
        multer::Error::StreamSizeExceeded { .. } => AppError::FileTooLarge,
        multer::Error::FieldSizeExceeded { field_name, .. } => match field_name.as_deref() {
            Some("file") | None => AppError::FileTooLarge,
            Some(name) => AppError::InvalidField(name.to_owned()),
        },
        _ if in_file => AppError::InvalidFile("the body ended or failed inside the file"),
        _ => AppError::MissingFile,
    }
}

/// Whether a `file` part carries raw bytes (spec §3.3 rule 1) rather than base64 or a URL.
fn is_binary_part(field: &multer::Field<'_>) -> bool {
    field.file_name().is_some()
        || field
            .content_type()
            .is_some_and(|ct| ct.essence_str() != "text/plain")
}

/// Reads a multipart body.
pub async fn read_multipart(
    body: Body,
    boundary: String,
    blobs: &BlobStore,
    blob_key: &str,
    limits: &Limits,
    auth: &mut Authenticator<'_>,
) -> Result<Received, AppError> {
    let hard_cap = limits.hard_cap();
    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(hard_cap)
            .per_field(limits.max_text_field_bytes)
            .for_field("file", hard_cap),
    );
    let stream = idle_limited(body, limits.idle_body_timeout());
    let mut multipart = multer::Multipart::with_constraints(stream, boundary, constraints);

    let mut fields: Vec<(String, String)> = Vec::new();
    let mut file = FilePart::Absent;
    loop {
        let next = multipart
            .next_field()
            .await
            .map_err(|e| map_multer(e, false))?;
        let Some(mut part) = next else { break };
        // A part without a name cannot be a parameter; it is skipped like an unknown field.
        let Some(name) = part.name().map(str::to_owned) else {
            continue;
        };
        if fields.iter().any(|(n, _)| *n == name)
            || (name == "file" && !matches!(file, FilePart::Absent))
        {
            return Err(AppError::InvalidField(name));
        }
        if name != "file" {
            if fields.len() >= limits.max_text_fields {
                return Err(AppError::MissingFile);
            }
            let bytes = part.bytes().await.map_err(|e| map_multer(e, false))?;
            let text = String::from_utf8(bytes.to_vec())
                .map_err(|_| AppError::InvalidField(name.clone()))?;
            fields.push((name, text));
            continue;
        }

        auth.before_file(&fields).await?;
        let checks = StreamingChecks::before_file(&fields, auth.pinned_fields());
        let mut sink = FileSink::new(blobs, blob_key, limits, checks);
        if is_binary_part(&part) {
            while let Some(chunk) = part.chunk().await.map_err(|e| map_multer(e, true))? {
                sink.push(&chunk).await?;
            }
        } else {
            let mut decoder = Base64Decoder::new();
            let mut problem = None;
            let mut first = true;
            let mut url: Option<Vec<u8>> = None;
            while let Some(chunk) = part.chunk().await.map_err(|e| map_multer(e, true))? {
                if problem.is_some() {
                    continue; // drain the part; the error is reported after auth and params
                }
                if first && looks_like_url(&chunk) {
                    url = Some(Vec::new());
                }
                first = false;
                if let Some(text) = url.as_mut() {
                    problem = collect_url(text, &chunk).err();
                    continue;
                }
                match decoder.push(&chunk) {
                    Ok(decoded) => sink.push(&decoded).await?,
                    Err(_) => problem = Some(AppError::InvalidFile("invalid base64")),
                }
            }
            if problem.is_none() && url.is_none() {
                match decoder.finish() {
                    Ok(rest) => sink.push(&rest).await?,
                    Err(_) => problem = Some(AppError::InvalidFile("invalid base64")),
                }
            }
            if let Some(problem) = problem {
                file = FilePart::Unusable(problem);
                continue;
            }
            if let Some(text) = url {
                file = url_part(text);
                continue;
            }
        }
        let hint = fields
            .iter()
            .find(|(n, _)| n == "fileName")
            .map(|(_, v)| folio_contract::sanitize_file_name(v))
            .unwrap_or_default();
        file = FilePart::Received(Box::new(sink.finish(&hint).await?));
    }
    Ok(Received { fields, file })
}

/// Reads an `application/x-www-form-urlencoded` body (spec §1: every field is text there, so
/// `file` is base64 or a URL). The body is bounded by the transport cap.
pub async fn read_urlencoded(
    body: Body,
    blobs: &BlobStore,
    blob_key: &str,
    limits: &Limits,
    auth: &mut Authenticator<'_>,
) -> Result<Received, AppError> {
    let mut stream = std::pin::pin!(idle_limited(body, limits.idle_body_timeout()));
    let mut raw = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| AppError::MissingFile)?;
        if (raw.len() + chunk.len()) as u64 > limits.hard_cap() {
            return Err(AppError::FileTooLarge);
        }
        raw.extend_from_slice(&chunk);
    }
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut file_text: Option<String> = None;
    for (name, value) in form_urlencoded_pairs(&raw) {
        if fields.iter().any(|(n, _)| *n == name) || (name == "file" && file_text.is_some()) {
            return Err(AppError::InvalidField(name));
        }
        if name == "file" {
            file_text = Some(value);
        } else {
            if fields.len() >= limits.max_text_fields {
                return Err(AppError::MissingFile);
            }
            fields.push((name, value));
        }
    }
    drop(raw);
    let file = match file_text {
        None => FilePart::Absent,
        Some(text) => {
            auth.before_file(&fields).await?;
            if looks_like_url(text.as_bytes()) {
                return Ok(Received {
                    fields,
                    file: url_part(text.into_bytes()),
                });
            }
            let checks = StreamingChecks::before_file(&fields, auth.pinned_fields());
            let mut sink = FileSink::new(blobs, blob_key, limits, checks);
            let mut decoder = Base64Decoder::new();
            let mut valid = true;
            for chunk in text.as_bytes().chunks(64 * 1024) {
                match decoder.push(chunk) {
                    Ok(decoded) => sink.push(&decoded).await?,
                    Err(_) => {
                        valid = false;
                        break;
                    }
                }
            }
            match decoder.finish() {
                Ok(rest) if valid => {
                    sink.push(&rest).await?;
                    let hint = fields
                        .iter()
                        .find(|(n, _)| n == "fileName")
                        .map(|(_, v)| folio_contract::sanitize_file_name(v))
                        .unwrap_or_default();
                    FilePart::Received(Box::new(sink.finish(&hint).await?))
                }
                _ => FilePart::Unusable(AppError::InvalidFile("invalid base64")),
            }
        }
    };
    Ok(Received { fields, file })
}

/// `application/x-www-form-urlencoded` pairs, in order.
fn form_urlencoded_pairs(raw: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(raw)
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect()
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
    let mut sink = FileSink::new(blobs, key, limits, None);
    while let Some(chunk) = stream.next().await {
        sink.push(&chunk?).await?;
    }
    sink.finish(file_name_hint).await
}

/// Appends a piece of a URL `file` text, bounded by [`super::fetch::MAX_URL_BYTES`].
fn collect_url(text: &mut Vec<u8>, chunk: &[u8]) -> Result<(), AppError> {
    if text.len() + chunk.len() > super::fetch::MAX_URL_BYTES {
        return Err(AppError::InvalidFile("URL too long"));
    }
    text.extend_from_slice(chunk);
    Ok(())
}

/// A `file` text that starts like a URL, as the part to fetch later.
fn url_part(text: Vec<u8>) -> FilePart {
    if text.len() > super::fetch::MAX_URL_BYTES {
        return FilePart::Unusable(AppError::InvalidFile("URL too long"));
    }
    match String::from_utf8(text) {
        Ok(url) => FilePart::Url(url.trim().to_owned()),
        Err(_) => FilePart::Unusable(AppError::InvalidFile("URL not UTF-8")),
    }
}

fn looks_like_url(start: &[u8]) -> bool {
    let lower: Vec<u8> = start
        .iter()
        .take(8)
        .map(|b| b.to_ascii_lowercase())
        .collect();
    lower.starts_with(b"http://") || lower.starts_with(b"https://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded_pairs_decode() {
        let pairs = form_urlencoded_pairs(b"fileName=my+photo%20(1).jpg&tags=a%2Cb&empty=&x");
        assert_eq!(
            pairs,
            vec![
                ("fileName".into(), "my photo (1).jpg".into()),
                ("tags".into(), "a,b".into()),
                ("empty".into(), "".into()),
                ("x".into(), "".into()),
            ]
        );
    }

    #[test]
    fn urls_are_recognised_case_insensitively() {
        assert!(looks_like_url(b"HTTPS://example.com/a.jpg"));
        assert!(looks_like_url(b"http://x"));
        assert!(!looks_like_url(b"data:image/gif;base64,R0lG"));
        assert!(!looks_like_url(b"R0lGODlh"));
    }
}
