//! `folio upload`: a client of a running server's upload API over HTTP, like any other client.
//!
//! A file up to [`RESUMABLE_ABOVE`] goes in one multipart `POST /api/v2/files/upload`. A larger
//! one (or any with `--resumable`) goes through the tus endpoint in chunks, each with a SHA-1
//! `Upload-Checksum`, retried with back-off across connection errors, 409, 423 and 5xx. The
//! upload URL is remembered in a small state file, so running the same command again after an
//! interrupted run continues from the offset the server reports.
//!
//! Both ways authenticate with a single-use upload token minted here from the key pair rather
//! than with Basic credentials: the private key never crosses the network (the server may be
//! on another machine, behind plain http), a captured request cannot be replayed, and the
//! parameters mean the same in both modes (the token's payload, checked by the server exactly
//! as for a browser upload).

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context};
use base64::Engine;
use futures_util::TryStreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha1::Digest;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::config::Config;

const MIB: u64 = 1024 * 1024;
/// Files larger than this go through the resumable endpoint without `--resumable`: below it a
/// failed upload costs little to redo, above it a cut connection (or a proxy's body limit,
/// often 100 MB) would cost the whole file.
pub const RESUMABLE_ABOVE: u64 = 64 * MIB;
/// Lifetime of the minted token: it only has to be valid when the upload starts (a resumable
/// upload then lives `resumable.ttl_secs` on the server).
const TOKEN_LIFETIME_SECS: i64 = 600;
/// Consecutive failures without progress after which a run gives up (the delays add up to
/// about a minute); the state file stays, so the next run resumes.
const MAX_FAILURES: u32 = 8;
/// A chunk whose bytes stop leaving for this long is abandoned and retried.
const SEND_STALL: Duration = Duration::from_secs(60);
/// How long the answer to a chunk may take once its last byte was sent (the last chunk's
/// answer waits for the commit: media facts, checks, the blob store).
const ANSWER_WAIT: Duration = Duration::from_secs(300);
/// Read size when hashing and streaming a file.
const READ_BUFFER: usize = 256 * 1024;

const TUS_PATH: &str = "/api/v2/files/upload/resumable";
const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";

/// What `folio upload` was asked to do, with the key pair and server resolved.
pub struct Upload {
    pub file: PathBuf,
    pub params: Vec<(String, String)>,
    /// `--resumable`: the tus endpoint whatever the size.
    pub resumable: bool,
    pub server: String,
    pub public_key: String,
    pub private_key: String,
    pub chunk_size: u64,
    /// Where the state files of unfinished resumable uploads are kept.
    pub state_dir: PathBuf,
}

/// The server to talk to when `--server` is not given: the public URL, else the listen
/// address (a wildcard address reached on loopback, as on the machine that runs the server).
pub fn default_server(config: &Config) -> String {
    if !config.public_url.is_empty() {
        return config.public_url();
    }
    let mut addr = config.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("http://{addr}")
}

/// The folder of the state files: the user's cache folder (`$XDG_CACHE_HOME`, else
/// `~/.cache`), since they belong to the client and not to a server's data; the data folder
/// only when there is no home.
pub fn state_dir(config: &Config) -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|home| home.join(".cache"))
        });
    match cache {
        Some(dir) => dir.join("folio").join("uploads"),
        None => config.data_dir.join("upload-state"),
    }
}

/// Uploads the file; the v2 upload response, the server's JSON text as it came (its key order
/// included).
pub async fn run(mut upload: Upload) -> anyhow::Result<String> {
    let base = Url::parse(&upload.server)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
        .with_context(|| format!("--server {}: expected an http(s) URL", upload.server))?;
    let base = base.as_str().trim_end_matches('/').to_owned();
    let source = Source::open(&upload.file)?;
    if !upload.params.iter().any(|(name, _)| name == "fileName") {
        upload
            .params
            .push(("fileName".to_owned(), source.name.clone()));
    }
    let client = reqwest::Client::builder()
        .user_agent(concat!("folio-cli/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .context("cannot build the HTTP client")?;
    let client = Client { http: client, base };
    if upload.resumable || source.size > RESUMABLE_ABOVE {
        match resumable(&client, &upload, &source).await? {
            Resumable::Done(value) => return Ok(value),
            Resumable::Unsupported if !upload.resumable => {
                eprintln!(
                    "note: {} does not accept resumable uploads; sending the file in one request",
                    client.base
                );
            }
            Resumable::Unsupported => bail!(
                "{} does not accept resumable uploads ({TUS_PATH} answered 404)",
                client.base
            ),
        }
    }
    let token = super::mint_token(
        &upload.public_key,
        &upload.private_key,
        &upload.params,
        TOKEN_LIFETIME_SECS,
    )?;
    plain(&client, &upload, &source, token).await
}

/// The file as it was when the run started.
struct Source {
    path: PathBuf,
    name: String,
    size: u64,
    /// Modification time in nanoseconds since the epoch: with the size, how a change of the
    /// file is noticed (between chunks, and between runs).
    modified: u128,
}

impl Source {
    fn open(path: &Path) -> anyhow::Result<Source> {
        let canonical = std::fs::canonicalize(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let (size, modified) = Self::stat(&canonical)?;
        let name = canonical
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_owned)
            .with_context(|| {
                format!(
                    "{}: the file name is not UTF-8; give one with --param fileName=NAME",
                    path.display()
                )
            })?;
        Ok(Source {
            path: canonical,
            name,
            size,
            modified,
        })
    }

    fn stat(path: &Path) -> anyhow::Result<(u64, u128)> {
        let meta =
            std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        if !meta.is_file() {
            bail!("{} is not a file", path.display());
        }
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        Ok((meta.len(), modified))
    }

    fn unchanged(&self) -> anyhow::Result<bool> {
        Ok(Self::stat(&self.path)? == (self.size, self.modified))
    }
}

struct Client {
    http: reqwest::Client,
    /// The server's base URL, without a trailing slash.
    base: String,
}

/// The server's error message (the `message` of its JSON body), with the status.
async fn refusal(response: reqwest::Response) -> anyhow::Error {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| text.trim().chars().take(300).collect());
    anyhow!("the server refused the upload ({status}): {message}")
}

/// A request error with its causes (reqwest's own text rarely says what went wrong).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn progress_bar(length: u64) -> ProgressBar {
    // Drawn on stderr, and only when it is a terminal: stdout carries the JSON.
    let bar = ProgressBar::new(length);
    if let Ok(style) = ProgressStyle::with_template(
        "{wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar
}

/// One multipart POST, the file streamed from disk after the text fields and the token.
async fn plain(
    client: &Client,
    upload: &Upload,
    source: &Source,
    token: String,
) -> anyhow::Result<String> {
    let file = tokio::fs::File::open(&source.path)
        .await
        .with_context(|| format!("cannot read {}", source.path.display()))?;
    let bar = progress_bar(source.size);
    let stream = tokio_util::io::ReaderStream::with_capacity(file, READ_BUFFER).inspect_ok({
        let bar = bar.clone();
        move |bytes| bar.inc(bytes.len() as u64)
    });
    let part = reqwest::multipart::Part::stream_with_length(
        reqwest::Body::wrap_stream(stream),
        source.size,
    )
    .file_name(source.name.clone());
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in &upload.params {
        form = form.text(name.clone(), value.clone());
    }
    let form = form.text("token", token).part("file", part);
    let url = format!("{}/api/v2/files/upload", client.base);
    let sent = client.http.post(&url).multipart(form).send().await;
    bar.finish_and_clear();
    let response = sent.map_err(|e| anyhow!("cannot upload to {url}: {}", describe(&e)))?;
    if !response.status().is_success() {
        return Err(refusal(response).await);
    }
    let text = response
        .text()
        .await
        .map_err(|e| anyhow!("reading the server's answer: {}", describe(&e)))?;
    json_text(text).map_err(|text| anyhow!("the server's answer is not JSON: {text}"))
}

/// The text if it is JSON, else the text as the error.
fn json_text(text: String) -> Result<String, String> {
    match serde_json::from_str::<serde::de::IgnoredAny>(&text) {
        Ok(_) => Ok(text),
        Err(_) => Err(text.chars().take(300).collect()),
    }
}

enum Resumable {
    Done(String),
    /// The server has no resumable endpoint (it is turned off).
    Unsupported,
}

/// Why a step of a resumable upload failed.
enum Failure {
    /// Worth another try after a pause (the network, a busy or restarting server).
    Retry(String),
    /// A chunk got no answer (the connection broke or stalled): the server may have taken it
    /// whole, or ended the upload and answered on a connection that was then closed.
    Cut(String),
    /// `GET <Location>` answered 409: the upload is still receiving (or ended with a 409).
    Pending(anyhow::Error),
    /// The upload cannot go on: the message says why.
    Fatal(anyhow::Error),
}

/// Statuses a tus client retries: the server was busy, restarting or briefly unavailable.
fn transient(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT
}

/// Pauses between attempts that made no progress: 0.5 s doubling to 15 s, with jitter.
#[derive(Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    async fn wait(&mut self, bar: &ProgressBar, why: &str) -> anyhow::Result<()> {
        self.failures += 1;
        if self.failures > MAX_FAILURES {
            bail!(
                "giving up after {MAX_FAILURES} attempts ({why}); run the same command again \
                 to resume the upload"
            );
        }
        let base = (500u64 << (self.failures - 1).min(5)).min(15_000);
        let delay = Duration::from_millis(base * rand::random_range(75..=125) / 100);
        bar.suspend(|| eprintln!("{why}; retrying in {:.1} s", delay.as_secs_f64()));
        tokio::time::sleep(delay).await;
        Ok(())
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}

/// The state file of one upload: which file (path, size, modification time), to which server,
/// with which parameters. It holds the upload URL, a capability, so only its owner may read
/// it; never a key or a token.
struct StateFile {
    path: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Saved {
    location: String,
    file: PathBuf,
    length: u64,
}

impl StateFile {
    fn new(dir: &Path, source: &Source, server: &str, params: &[(String, String)]) -> Self {
        let mut hash = sha2::Sha256::new();
        for part in [
            source.path.as_os_str().as_encoded_bytes(),
            source.size.to_string().as_bytes(),
            source.modified.to_string().as_bytes(),
            server.as_bytes(),
        ] {
            hash.update(part);
            hash.update([0]);
        }
        for (name, value) in params {
            hash.update(name.as_bytes());
            hash.update([b'=']);
            hash.update(value.as_bytes());
            hash.update([0]);
        }
        let digest = hash.finalize();
        StateFile {
            path: dir.join(format!("{}.json", hex::encode(&digest[..16]))),
        }
    }

    fn load(&self) -> Option<Saved> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn save(&self, saved: &Saved) -> anyhow::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let dir = self.path.parent().context("state file without a folder")?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let temporary = self
            .path
            .with_extension(format!("tmp{}", std::process::id()));
        let written = (|| {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&temporary)?;
            file.write_all(&serde_json::to_vec(saved)?)?;
            file.sync_all()?;
            std::fs::rename(&temporary, &self.path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        written.with_context(|| format!("cannot write {}", self.path.display()))
    }

    fn remove(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The tus conversation of one upload.
struct Tus<'a> {
    client: &'a Client,
    bar: ProgressBar,
    backoff: Backoff,
}

enum Head {
    At {
        offset: u64,
        length: u64,
    },
    /// 404 or 410: expired, removed, or never known.
    Gone(StatusCode),
}

fn header_u64(response: &reqwest::Response, name: &str) -> Option<u64> {
    response
        .headers()
        .get(name)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

async fn resumable(client: &Client, upload: &Upload, source: &Source) -> anyhow::Result<Resumable> {
    let state = StateFile::new(&upload.state_dir, source, &client.base, &upload.params);
    let mut tus = Tus {
        client,
        bar: progress_bar(source.size),
        backoff: Backoff::default(),
    };
    let (location, offset) = match tus.resume(&state, source).await? {
        Some(at) => at,
        None => {
            let token = super::mint_token(
                &upload.public_key,
                &upload.private_key,
                &upload.params,
                TOKEN_LIFETIME_SECS,
            )?;
            let Some((location, offset)) = tus.create(source.size, &token).await? else {
                tus.bar.finish_and_clear();
                return Ok(Resumable::Unsupported);
            };
            state.save(&Saved {
                location: location.clone(),
                file: source.path.clone(),
                length: source.size,
            })?;
            (location, offset)
        }
    };
    let outcome = tus.send(&location, source, offset, upload.chunk_size).await;
    tus.bar.finish_and_clear();
    match outcome {
        Ok(value) => {
            state.remove();
            Ok(Resumable::Done(value))
        }
        Err(Failure::Fatal(e) | Failure::Pending(e)) => {
            state.remove();
            Err(e)
        }
        // Retries ran out: the next run resumes from the state file.
        Err(Failure::Retry(why) | Failure::Cut(why)) => Err(anyhow!(why)),
    }
}

impl Tus<'_> {
    fn endpoint(&self) -> String {
        format!("{}{TUS_PATH}", self.client.base)
    }

    /// The upload a state file names, if the server still has it for this file: its URL and
    /// offset.
    async fn resume(
        &mut self,
        state: &StateFile,
        source: &Source,
    ) -> anyhow::Result<Option<(String, u64)>> {
        let Some(saved) = state.load() else {
            return Ok(None);
        };
        if saved.length == source.size && saved.file == source.path {
            loop {
                match self.head(&saved.location).await {
                    Ok(Head::At { offset, length }) if length == source.size => {
                        self.bar.suspend(|| {
                            eprintln!(
                                "resuming the upload of {} at byte {offset} of {length}",
                                source.path.display()
                            )
                        });
                        return Ok(Some((saved.location, offset)));
                    }
                    Ok(Head::At { .. }) => break,
                    Ok(Head::Gone(status)) => {
                        self.bar.suspend(|| {
                            eprintln!(
                                "the interrupted upload of {} is gone ({status}); starting over",
                                source.path.display()
                            )
                        });
                        break;
                    }
                    Err(Failure::Retry(why) | Failure::Cut(why)) => {
                        self.backoff.wait(&self.bar, &why).await?
                    }
                    Err(Failure::Fatal(e) | Failure::Pending(e)) => return Err(e),
                }
            }
        }
        state.remove();
        Ok(None)
    }

    /// The creation POST, retried with the same token (the server answers a retried creation
    /// with the same upload, so a lost answer never makes a second one). `None` when the
    /// server has no resumable endpoint.
    async fn create(&mut self, length: u64, token: &str) -> anyhow::Result<Option<(String, u64)>> {
        let endpoint = self.endpoint();
        loop {
            let sent = self
                .client
                .http
                .post(&endpoint)
                .header("Tus-Resumable", "1.0.0")
                .header("Upload-Length", length.to_string())
                .bearer_auth(token)
                .send()
                .await;
            let why = match sent {
                Ok(response) if response.status() == StatusCode::CREATED => {
                    let location = response
                        .headers()
                        .get(reqwest::header::LOCATION)
                        .and_then(|v| v.to_str().ok())
                        .context("the creation answer has no Location")?;
                    // A relative Location resolves against the address this client used.
                    let location = Url::parse(&endpoint)
                        .and_then(|base| base.join(location))
                        .context("the creation answer has an invalid Location")?;
                    let offset = header_u64(&response, "upload-offset").unwrap_or(0);
                    return Ok(Some((location.to_string(), offset)));
                }
                Ok(response) if response.status() == StatusCode::NOT_FOUND => return Ok(None),
                Ok(response) if transient(response.status()) => {
                    format!("creating the upload: {}", refusal(response).await)
                }
                Ok(response) => return Err(refusal(response).await),
                Err(e) => format!("cannot reach {endpoint}: {}", describe(&e)),
            };
            self.backoff.wait(&self.bar, &why).await?;
        }
    }

    async fn head(&self, location: &str) -> Result<Head, Failure> {
        let response = self
            .client
            .http
            .head(location)
            .header("Tus-Resumable", "1.0.0")
            .send()
            .await
            .map_err(|e| Failure::Retry(format!("cannot reach the server: {}", describe(&e))))?;
        let status = response.status();
        if status == StatusCode::OK {
            return match (
                header_u64(&response, "upload-offset"),
                header_u64(&response, "upload-length"),
            ) {
                (Some(offset), Some(length)) => Ok(Head::At { offset, length }),
                _ => Err(Failure::Fatal(anyhow!(
                    "the server's HEAD answer lacks Upload-Offset or Upload-Length"
                ))),
            };
        }
        if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
            return Ok(Head::Gone(status));
        }
        if transient(status) {
            return Err(Failure::Retry(format!("HEAD answered {status}")));
        }
        Err(Failure::Fatal(refusal(response).await))
    }

    /// The server's offset, asked until it answers (or the retries run out).
    async fn offset(&mut self, location: &str) -> Result<u64, Failure> {
        loop {
            match self.head(location).await {
                Ok(Head::At { offset, .. }) => return Ok(offset),
                Ok(Head::Gone(status)) => return Err(gone(status)),
                Err(Failure::Retry(why)) => self.wait(&why).await?,
                Err(fatal) => return Err(fatal),
            }
        }
    }

    async fn wait(&mut self, why: &str) -> Result<(), Failure> {
        self.backoff
            .wait(&self.bar, why)
            .await
            .map_err(|e| Failure::Retry(format!("{e:#}")))
    }

    /// Sends the chunks from `offset` on, then fetches the upload's result.
    async fn send(
        &mut self,
        location: &str,
        source: &Source,
        mut offset: u64,
        chunk_size: u64,
    ) -> Result<String, Failure> {
        while offset < source.size {
            self.bar.set_position(offset);
            if !source.unchanged().map_err(Failure::Fatal)? {
                // Its bytes so far are not the file's any more: the upload is worthless.
                let _ = self
                    .client
                    .http
                    .delete(location)
                    .header("Tus-Resumable", "1.0.0")
                    .send()
                    .await;
                return Err(Failure::Fatal(anyhow!(
                    "{} changed during the upload; run the command again to upload it as it is now",
                    source.path.display()
                )));
            }
            let length = chunk_size.min(source.size - offset);
            match self.patch(location, &source.path, offset, length).await {
                Ok(next) => {
                    if next > offset {
                        self.backoff.reset();
                    }
                    offset = next;
                }
                Err(Failure::Retry(why)) => {
                    self.bar.set_position(offset);
                    self.wait(&why).await?;
                    offset = self.offset(location).await?;
                }
                Err(Failure::Cut(why)) => {
                    self.bar.set_position(offset);
                    self.wait(&why).await?;
                    if let Some(value) = self.settled(location).await? {
                        return Ok(value);
                    }
                    offset = self.offset(location).await?;
                }
                Err(fatal) => return Err(fatal),
            }
        }
        self.bar.set_position(source.size);
        loop {
            match self.result(location).await {
                Err(Failure::Retry(why)) => self.wait(&why).await?,
                // Every byte is in, so this 409 is how the upload ended.
                Err(Failure::Pending(e)) => return Err(Failure::Fatal(e)),
                other => return other,
            }
        }
    }

    /// After a chunk that got no answer: the upload's result if it has one (the chunk was its
    /// last, or the server ended the upload, e.g. a size limit or `checks`), `None` while it is
    /// still receiving.
    async fn settled(&mut self, location: &str) -> Result<Option<String>, Failure> {
        loop {
            match self.result(location).await {
                Ok(value) => return Ok(Some(value)),
                Err(Failure::Pending(_)) => return Ok(None),
                Err(Failure::Retry(why)) => self.wait(&why).await?,
                Err(other) => return Err(other),
            }
        }
    }

    /// One PATCH of `length` bytes at `offset`; the server's new offset.
    async fn patch(
        &self,
        location: &str,
        path: &Path,
        offset: u64,
        length: u64,
    ) -> Result<u64, Failure> {
        // The digest goes in a header, before the body: the chunk is read twice (the second
        // time from the page cache) rather than held in memory.
        let digest = sha1_of(path, offset, length)
            .await
            .with_context(|| format!("cannot read {}", path.display()))
            .map_err(Failure::Fatal)?;
        let activity = Arc::new(Activity::new());
        let body = chunk_stream(
            path,
            offset,
            length,
            self.bar.clone(),
            Arc::clone(&activity),
        )
        .await
        .with_context(|| format!("cannot read {}", path.display()))
        .map_err(Failure::Fatal)?;
        let request = self
            .client
            .http
            .patch(location)
            .header("Tus-Resumable", "1.0.0")
            .header(reqwest::header::CONTENT_TYPE, OFFSET_OCTET_STREAM)
            .header(reqwest::header::CONTENT_LENGTH, length)
            .header("Upload-Offset", offset.to_string())
            .header(
                "Upload-Checksum",
                format!(
                    "sha1 {}",
                    base64::engine::general_purpose::STANDARD.encode(digest)
                ),
            )
            .body(reqwest::Body::wrap_stream(body))
            .send();
        tokio::pin!(request);
        let response = loop {
            tokio::select! {
                response = &mut request => break response,
                () = tokio::time::sleep(Duration::from_secs(1)) => {
                    let (limit, doing) = if activity.sent() < length {
                        (SEND_STALL, "sending stalled")
                    } else {
                        (ANSWER_WAIT, "no answer to the chunk")
                    };
                    if activity.idle() > limit {
                        return Err(Failure::Cut(format!("{doing} for {} s", limit.as_secs())));
                    }
                }
            }
        };
        let response = response
            .map_err(|e| Failure::Cut(format!("the chunk was cut off: {}", describe(&e))))?;
        let status = response.status();
        match status {
            StatusCode::NO_CONTENT => header_u64(&response, "upload-offset")
                .ok_or_else(|| Failure::Retry("the answer has no Upload-Offset".to_owned())),
            StatusCode::CONFLICT => {
                Err(Failure::Retry("the server is at another offset".to_owned()))
            }
            StatusCode::LOCKED => Err(Failure::Retry(
                "another request still writes to the upload".to_owned(),
            )),
            StatusCode::NOT_FOUND | StatusCode::GONE => Err(gone(status)),
            s if s.as_u16() == 460 => Err(Failure::Retry(
                "the chunk arrived with another checksum".to_owned(),
            )),
            s if transient(s) => Err(Failure::Retry(format!("{}", refusal(response).await))),
            _ => Err(Failure::Fatal(refusal(response).await)),
        }
    }

    /// `GET <Location>`: the v2 upload response the last byte got, or its error.
    async fn result(&self, location: &str) -> Result<String, Failure> {
        let response =
            self.client.http.get(location).send().await.map_err(|e| {
                Failure::Retry(format!("cannot reach the server: {}", describe(&e)))
            })?;
        let status = response.status();
        if status.is_success() {
            let text = response
                .text()
                .await
                .map_err(|e| Failure::Retry(format!("reading the result: {}", describe(&e))))?;
            return json_text(text).map_err(|text| {
                Failure::Fatal(anyhow!("the upload's result is not JSON: {text}"))
            });
        }
        if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
            return Err(gone(status));
        }
        if status == StatusCode::CONFLICT {
            return Err(Failure::Pending(refusal(response).await));
        }
        // The stored result of a commit that failed is a v2 error like any other: a 500 among
        // them is the server's final word, which a retry would only read again.
        Err(Failure::Fatal(refusal(response).await))
    }
}

fn gone(status: StatusCode) -> Failure {
    Failure::Fatal(anyhow!(
        "the upload is gone ({status}): it expired or was removed; run the command again to \
         start over"
    ))
}

/// When a chunk's bytes last moved, to tell a slow network from a stalled one.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
    sent: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            sent: AtomicU64::new(0),
        }
    }

    fn record(&self, bytes: u64) {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(now, Ordering::Relaxed);
        self.sent.fetch_add(bytes, Ordering::Relaxed);
    }

    fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    fn idle(&self) -> Duration {
        self.start
            .elapsed()
            .saturating_sub(Duration::from_millis(self.last_ms.load(Ordering::Relaxed)))
    }
}

async fn sha1_of(path: &Path, offset: u64, length: u64) -> anyhow::Result<[u8; 20]> {
    let mut file = tokio::fs::File::open(path).await?;
    file.seek(SeekFrom::Start(offset)).await?;
    let mut reader = file.take(length);
    let mut hash = sha1::Sha1::new();
    let mut buffer = vec![0u8; READ_BUFFER];
    let mut read = 0u64;
    loop {
        let n = reader.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        hash.update(&buffer[..n]);
        read += n as u64;
    }
    if read != length {
        bail!("the file is shorter than when the upload started");
    }
    Ok(hash.finalize().into())
}

/// The bytes `offset..offset + length` of the file, as they are read.
async fn chunk_stream(
    path: &Path,
    offset: u64,
    length: u64,
    bar: ProgressBar,
    activity: Arc<Activity>,
) -> anyhow::Result<impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>>> {
    let mut file = tokio::fs::File::open(path).await?;
    file.seek(SeekFrom::Start(offset)).await?;
    let stream = tokio_util::io::ReaderStream::with_capacity(file.take(length), READ_BUFFER);
    Ok(stream.inspect_ok(move |bytes| {
        bar.inc(bytes.len() as u64);
        activity.record(bytes.len() as u64);
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_server_is_the_public_url_else_the_listen_address_on_loopback() {
        let mut config = Config {
            listen: "0.0.0.0:8080".parse().expect("addr"),
            ..Config::default()
        };
        assert_eq!(default_server(&config), "http://127.0.0.1:8080");
        config.listen = "[::]:9000".parse().expect("addr");
        assert_eq!(default_server(&config), "http://[::1]:9000");
        config.listen = "10.0.0.5:8080".parse().expect("addr");
        assert_eq!(default_server(&config), "http://10.0.0.5:8080");
        config.public_url = "https://media.example.com/".to_owned();
        assert_eq!(default_server(&config), "https://media.example.com");
    }

    #[test]
    fn a_state_file_names_one_file_version_server_and_parameters() {
        let source = |size, modified| Source {
            path: PathBuf::from("/data/video.mp4"),
            name: "video.mp4".to_owned(),
            size,
            modified,
        };
        let params = vec![("folder".to_owned(), "/a".to_owned())];
        let name = |s: &Source, server: &str, p: &[(String, String)]| {
            StateFile::new(Path::new("/state"), s, server, p).path
        };
        let base = name(&source(10, 1), "http://a", &params);
        assert_eq!(base, name(&source(10, 1), "http://a", &params));
        assert!(base.starts_with("/state"));
        for other in [
            name(&source(11, 1), "http://a", &params),
            name(&source(10, 2), "http://a", &params),
            name(&source(10, 1), "http://b", &params),
            name(&source(10, 1), "http://a", &[]),
            name(
                &source(10, 1),
                "http://a",
                &[("folder".to_owned(), "/b".to_owned())],
            ),
        ] {
            assert_ne!(base, other);
        }
    }
}
