//! Intake: reads the request body once, field by field, multipart or form-encoded.
//!
//! Both formats are streamed; neither is ever held whole. Text fields are collected in
//! arrival order under limits on their count, their size and their total size. The `file`
//! field (binary, or base64 text) goes straight into its final blob through a
//! [`FileSink`](super::sink::FileSink); a `file` given as a URL is only recorded. When the
//! `file` begins, the authenticator decides whatever the fields seen so far allow, so that a
//! bad request is refused before its file is read. A file that begins before its credentials
//! (the official browser SDK sends the credentials last) counts against the server-wide budget
//! of [unproven](super::unproven) bytes, or, with `limits.credentials_before_file`, is kept to
//! a small prefix in memory until they are proven. Memory per request is bounded by the limits
//! and the blob writer's buffer, never by the size of the body.

use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::auth::Authenticator;
use super::base64_stream::Base64Decoder;
use super::multipart_guard::{MultipartGuard, Violation};
use super::sink::{FileSink, ReceivedFile, StreamingChecks};
use super::unproven::Hold;
use super::urlencoded::{Event, FormError, TextLimits, UrlEncodedParser};
use crate::config::Limits;
use crate::error::AppError;
use crate::store::blob::BlobStore;

/// File bytes kept in memory, with `limits.credentials_before_file`, while a `file` that came
/// before the credentials waits for them; a larger file is refused.
pub const CREDENTIALS_PREFIX_BYTES: usize = 64 * 1024;

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

/// Where a request's file is written, and under which limits.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub blobs: &'a BlobStore,
    pub key: &'a str,
    pub limits: &'a Limits,
}

impl<'a> Target<'a> {
    fn sink(&self, checks: Option<StreamingChecks>, unproven: Option<Hold>) -> FileSink<'a> {
        FileSink::new(self.blobs, self.key, self.limits, checks, unproven)
    }
}

/// Reads a multipart body.
pub async fn read_multipart(
    body: Body,
    boundary: String,
    target: Target<'_>,
    auth: &mut Authenticator<'_>,
    unproven: &Hold,
) -> Result<Received, AppError> {
    let limits = target.limits;
    let stream = idle_limited(body, limits.idle_body_timeout());
    let mut multipart = multipart_parser(stream, boundary, limits);

    let mut reader = Reader::new(target, auth, unproven);
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
        reader.fields.begin(&name, reader.file.is_seen())?;
        if name == "file" {
            reader.file_start(is_binary_part(&part)).await?;
            while let Some(chunk) = part.chunk().await.map_err(|e| map_multer(e, true))? {
                reader.file_data(chunk).await?;
            }
            reader.file_end().await?;
        } else {
            let mut value = Vec::new();
            while let Some(chunk) = part.chunk().await.map_err(|e| map_multer(e, false))? {
                value.extend_from_slice(&chunk);
                reader.fields.check_size(&name, value.len())?;
            }
            let text =
                String::from_utf8(value).map_err(|_| AppError::InvalidField(name.clone()))?;
            reader.fields.push(name, text);
        }
    }
    reader.finish().await
}

/// The multipart parser of the intake: `multer` under the size limits, behind the
/// [`MultipartGuard`] that bounds what it would buffer whole (public for the fuzz targets).
pub fn multipart_parser(
    stream: impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    boundary: String,
    limits: &Limits,
) -> multer::Multipart<'static> {
    let hard_cap = limits.hard_cap();
    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(hard_cap)
            .per_field(limits.max_text_field_bytes)
            .for_field("file", hard_cap),
    );
    let guard = MultipartGuard::new(&boundary, limits.max_part_header_bytes);
    multer::Multipart::with_constraints(guarded(stream, guard), boundary, constraints)
}

/// Reads an `application/x-www-form-urlencoded` body (spec §1: every field is text there, so
/// `file` is base64 or a URL), with the streaming parser of [`super::urlencoded`].
pub async fn read_urlencoded(
    body: Body,
    target: Target<'_>,
    auth: &mut Authenticator<'_>,
    unproven: &Hold,
) -> Result<Received, AppError> {
    let limits = target.limits;
    let mut stream = std::pin::pin!(idle_limited(body, limits.idle_body_timeout()));
    let mut parser = UrlEncodedParser::new(text_limits(limits));
    let mut reader = Reader::new(target, auth, unproven);
    let mut received = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| AppError::MissingFile)?;
        received += chunk.len() as u64;
        if received > limits.hard_cap() {
            return Err(AppError::FileTooLarge);
        }
        let mut input = &chunk[..];
        while let Some(event) = parser.parse(&mut input).map_err(form_error)? {
            reader.event(event).await?;
        }
    }
    while let Some(event) = parser.finish().map_err(form_error)? {
        reader.event(event).await?;
    }
    reader.finish().await
}

/// What the form parser may hold: names as long as a multipart header block may be, values
/// like multipart text fields.
fn text_limits(limits: &Limits) -> TextLimits {
    let bytes = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    TextLimits {
        max_name_bytes: limits.max_part_header_bytes,
        max_value_bytes: bytes(limits.max_text_field_bytes),
        max_total_value_bytes: bytes(limits.max_text_bytes_total),
    }
}

fn form_error(err: FormError) -> AppError {
    match err {
        FormError::NameTooLong { .. } => {
            tracing::info!(reason = %err, "form body refused");
            AppError::MissingFile
        }
        FormError::ValueTooLong { name, .. } | FormError::TextTooLarge { name, .. } => {
            tracing::debug!(field = %name, "text field over its limits");
            AppError::InvalidField(name)
        }
    }
}

/// The state of one request's intake, whatever the body format: the text fields so far and
/// the file.
struct Reader<'r, 'a> {
    target: Target<'r>,
    auth: &'r mut Authenticator<'a>,
    unproven: &'r Hold,
    fields: TextFields<'r>,
    file: FileSlot<'r>,
}

enum FileSlot<'r> {
    Absent,
    Arriving(IncomingFile<'r>),
    /// `limits.credentials_before_file`: a complete file, kept in memory (at most
    /// [`CREDENTIALS_PREFIX_BYTES`]) until the credentials are proven.
    Waiting(Vec<u8>),
    Done(FilePart),
}

impl FileSlot<'_> {
    fn is_seen(&self) -> bool {
        !matches!(self, FileSlot::Absent)
    }
}

/// The `file` field while it arrives.
struct IncomingFile<'r> {
    /// `None` for raw bytes, else base64 or URL text.
    text: Option<TextFile>,
    dest: Dest<'r>,
}

/// Where the bytes of an arriving file go.
enum Dest<'r> {
    Blob(Box<FileSink<'r>>),
    /// `limits.credentials_before_file` while the credentials are not proven: memory, at most
    /// [`CREDENTIALS_PREFIX_BYTES`].
    Held(Vec<u8>),
}

impl<'r, 'a> Reader<'r, 'a> {
    fn new(target: Target<'r>, auth: &'r mut Authenticator<'a>, unproven: &'r Hold) -> Self {
        Reader {
            target,
            auth,
            unproven,
            fields: TextFields::new(target.limits),
            file: FileSlot::Absent,
        }
    }

    /// An event of the form-encoded parser.
    async fn event(&mut self, event: Event) -> Result<(), AppError> {
        match event {
            Event::Field { name, value } => {
                self.fields.begin(&name, self.file.is_seen())?;
                self.fields.push(name, value);
                Ok(())
            }
            Event::FileStart => {
                self.fields.begin("file", self.file.is_seen())?;
                self.file_start(false).await
            }
            Event::FileData(data) => self.file_data(Bytes::from(data)).await,
            Event::FileEnd => self.file_end().await,
        }
    }

    async fn file_start(&mut self, binary: bool) -> Result<(), AppError> {
        let fields = &self.fields.list;
        self.auth.before_file(fields).await?;
        let dest = if !self.auth.is_proven() && self.target.limits.credentials_before_file {
            Dest::Held(Vec::new())
        } else {
            let checks = StreamingChecks::before_file(fields, self.auth.pinned_fields());
            let unproven = (!self.auth.is_proven()).then(|| self.unproven.clone());
            Dest::Blob(Box::new(self.target.sink(checks, unproven)))
        };
        self.file = FileSlot::Arriving(IncomingFile {
            text: (!binary).then(TextFile::default),
            dest,
        });
        Ok(())
    }

    /// The next bytes of the `file` field, as sent (raw, or text to decode).
    async fn file_data(&mut self, chunk: Bytes) -> Result<(), AppError> {
        let FileSlot::Arriving(file) = &mut self.file else {
            return Ok(());
        };
        match file.text.as_mut().map(|text| text.push(&chunk)) {
            None => self.keep(chunk).await,
            Some(decoded) => self.keep(Bytes::from(decoded)).await,
        }
    }

    async fn file_end(&mut self) -> Result<(), AppError> {
        let FileSlot::Arriving(file) = &mut self.file else {
            return Ok(());
        };
        if let Some(text) = file.text.take() {
            match text.finish() {
                TextEnd::Data(rest) => self.keep(Bytes::from(rest)).await?,
                TextEnd::Part(part) => {
                    self.file = FileSlot::Done(part);
                    return Ok(());
                }
            }
        }
        let slot = std::mem::replace(&mut self.file, FileSlot::Absent);
        self.file = match slot {
            FileSlot::Arriving(IncomingFile {
                dest: Dest::Blob(sink),
                ..
            }) => FileSlot::Done(FilePart::Received(Box::new(sink.finish().await?))),
            FileSlot::Arriving(IncomingFile {
                dest: Dest::Held(bytes),
                ..
            }) => FileSlot::Waiting(bytes),
            other => other,
        };
        Ok(())
    }

    /// Decoded file bytes into their destination.
    async fn keep(&mut self, bytes: Bytes) -> Result<(), AppError> {
        let Reader {
            file,
            auth,
            fields,
            target,
            ..
        } = self;
        let FileSlot::Arriving(file) = file else {
            return Ok(());
        };
        match &mut file.dest {
            Dest::Blob(sink) => sink.push(bytes).await,
            Dest::Held(held) if held.len() + bytes.len() <= CREDENTIALS_PREFIX_BYTES => {
                held.extend_from_slice(&bytes);
                Ok(())
            }
            Dest::Held(held) => {
                // The file outgrew its prefix before the credentials came: the request is
                // decided on the fields seen so far (which cannot authenticate it, or
                // `before_file` would have).
                auth.decide(&fields.list).await?;
                let mut sink = target.sink(None, None);
                sink.push(Bytes::from(std::mem::take(held))).await?;
                sink.push(bytes).await?;
                file.dest = Dest::Blob(Box::new(sink));
                Ok(())
            }
        }
    }

    /// The body has ended.
    async fn finish(self) -> Result<Received, AppError> {
        let file = match self.file {
            FileSlot::Absent => FilePart::Absent,
            FileSlot::Done(part) => part,
            // A body that ends inside the file is a broken body; multer and the form parser
            // report it before this point.
            FileSlot::Arriving(_) => {
                return Err(AppError::InvalidFile("the body ended inside the file"))
            }
            FileSlot::Waiting(bytes) => {
                // Every field is known now: the credentials decide, then the file is written.
                self.auth.decide(&self.fields.list).await?;
                let mut sink = self.target.sink(None, None);
                sink.push(Bytes::from(bytes)).await?;
                FilePart::Received(Box::new(sink.finish().await?))
            }
        };
        Ok(Received {
            fields: self.fields.list,
            file,
        })
    }
}

/// The text fields of a request, in arrival order, under the limits on their number, their
/// size and their total size.
struct TextFields<'a> {
    list: Vec<(String, String)>,
    /// Bytes of the values in `list`.
    total: usize,
    limits: &'a Limits,
}

impl<'a> TextFields<'a> {
    fn new(limits: &'a Limits) -> Self {
        TextFields {
            list: Vec::new(),
            total: 0,
            limits,
        }
    }

    /// A field named `name` begins: each name may occur once (spec §2.5, `file` included), and
    /// the number of text fields is bounded.
    fn begin(&self, name: &str, file_seen: bool) -> Result<(), AppError> {
        if self.list.iter().any(|(n, _)| n == name) || (name == "file" && file_seen) {
            return Err(AppError::InvalidField(name.to_owned()));
        }
        if name != "file" && self.list.len() >= self.limits.max_text_fields {
            return Err(AppError::MissingFile);
        }
        Ok(())
    }

    /// A value of `len` bytes so far for `name` fits its own limit and the total.
    fn check_size(&self, name: &str, len: usize) -> Result<(), AppError> {
        let len = len as u64;
        let total = (self.total as u64).saturating_add(len);
        if len > self.limits.max_text_field_bytes || total > self.limits.max_text_bytes_total {
            return Err(AppError::InvalidField(name.to_owned()));
        }
        Ok(())
    }

    fn push(&mut self, name: String, value: String) {
        self.total += value.len();
        self.list.push((name, value));
    }
}

/// A `file` sent as text (spec §3.3): a URL to fetch later, or base64 decoded as it arrives.
/// A problem is kept and reported after authentication and the parameter checks (step F1).
enum TextFile {
    /// The first bytes, until there are enough to tell a URL from base64.
    Start(Vec<u8>),
    Url(Vec<u8>),
    Base64(Base64Decoder),
    /// Not usable: the rest is read and dropped.
    Unusable(AppError),
}

impl Default for TextFile {
    fn default() -> Self {
        TextFile::Start(Vec::new())
    }
}

enum TextEnd {
    /// The last decoded bytes of a base64 file.
    Data(Vec<u8>),
    /// A URL, or a text that is not usable.
    Part(FilePart),
}

/// Enough of the text to tell `https://` from base64.
const URL_SCHEME_LEN: usize = "https://".len();

impl TextFile {
    /// Takes the next piece of text; returns the file bytes it completes.
    fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        match self {
            TextFile::Start(start) => {
                start.extend_from_slice(chunk);
                if start.len() < URL_SCHEME_LEN {
                    return Vec::new();
                }
                let start = std::mem::take(start);
                self.decide(&start);
                self.push(&start)
            }
            TextFile::Url(text) => {
                if let Err(problem) = collect_url(text, chunk) {
                    *self = TextFile::Unusable(problem);
                }
                Vec::new()
            }
            TextFile::Base64(decoder) => decoder.push(chunk).unwrap_or_else(|_| {
                *self = TextFile::Unusable(AppError::InvalidFile("invalid base64"));
                Vec::new()
            }),
            TextFile::Unusable(_) => Vec::new(),
        }
    }

    fn decide(&mut self, start: &[u8]) {
        *self = if looks_like_url(start) {
            TextFile::Url(Vec::new())
        } else {
            TextFile::Base64(Base64Decoder::new())
        };
    }

    fn finish(mut self) -> TextEnd {
        let mut data = Vec::new();
        if let TextFile::Start(start) = &mut self {
            let start = std::mem::take(start);
            self.decide(&start);
            data = self.push(&start);
        }
        match self {
            TextFile::Start(_) => TextEnd::Data(data),
            TextFile::Url(text) => TextEnd::Part(url_part(text)),
            TextFile::Base64(decoder) => match decoder.finish() {
                Ok(rest) => {
                    data.extend(rest);
                    TextEnd::Data(data)
                }
                Err(_) => {
                    TextEnd::Part(FilePart::Unusable(AppError::InvalidFile("invalid base64")))
                }
            },
            TextFile::Unusable(problem) => TextEnd::Part(FilePart::Unusable(problem)),
        }
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

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Puts the [`MultipartGuard`] in front of the parser: a chunk that breaks a bound becomes an
/// error of the stream instead of reaching it, and nothing after it is read.
fn guarded(
    stream: impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    mut guard: MultipartGuard,
) -> impl Stream<Item = Result<Bytes, BoxError>> + Send + 'static {
    stream
        .map(move |chunk| {
            let chunk = chunk?;
            guard.feed(&chunk)?;
            Ok::<_, BoxError>(chunk)
        })
        .scan(false, |failed, item| {
            // Once failed, the stream ends: the parser sees the error and nothing more.
            let ended = std::mem::replace(failed, item.is_err());
            std::future::ready((!ended).then_some(item))
        })
}

fn map_multer(err: multer::Error, in_file: bool) -> AppError {
    match err {
        multer::Error::StreamReadFailed(cause) if cause.is::<Violation>() => {
            // Spec §5.2: an unparseable body is a missing file (ours: the bounds make it so).
            tracing::info!(reason = %cause, "multipart body refused");
            AppError::MissingFile
        }
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
        .take(URL_SCHEME_LEN)
        .map(|b| b.to_ascii_lowercase())
        .collect();
    lower.starts_with(b"http://") || lower.starts_with(b"https://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_recognised_case_insensitively() {
        assert!(looks_like_url(b"HTTPS://example.com/a.jpg"));
        assert!(looks_like_url(b"http://x"));
        assert!(!looks_like_url(b"data:image/gif;base64,R0lG"));
        assert!(!looks_like_url(b"R0lGODlh"));
    }

    /// A text `file` decoded from the pieces `text` is cut into.
    fn text_file(text: &[u8], piece: usize) -> Result<Vec<u8>, String> {
        let mut file = TextFile::default();
        let mut out = Vec::new();
        for chunk in text.chunks(piece.max(1)) {
            out.extend(file.push(chunk));
        }
        match file.finish() {
            TextEnd::Data(rest) => {
                out.extend(rest);
                Ok(out)
            }
            TextEnd::Part(FilePart::Url(url)) => Err(format!("url {url}")),
            TextEnd::Part(_) => Err("unusable".into()),
        }
    }

    #[test]
    fn a_text_file_is_told_apart_however_it_is_cut() {
        for piece in [1, 2, 3, 7, 8, 9, 100] {
            assert_eq!(
                text_file(b"https://example.com/a.jpg", piece),
                Err("url https://example.com/a.jpg".into()),
                "{piece}"
            );
            assert_eq!(text_file(b"http://x", piece), Err("url http://x".into()));
            assert_eq!(text_file(b"QUJD", piece), Ok(b"ABC".to_vec()));
            assert_eq!(text_file(b"QUJDRA==", piece), Ok(b"ABCD".to_vec()));
            assert_eq!(
                text_file(b"data:text/plain;base64,QUJD", piece),
                Ok(b"ABC".to_vec())
            );
            assert_eq!(text_file(b"", piece), Ok(Vec::new()));
            assert_eq!(text_file(b"not base64!", piece), Err("unusable".into()));
        }
    }
}
