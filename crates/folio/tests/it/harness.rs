//! A test app: the production server on 127.0.0.1:0 with its own data folder, and typed
//! helpers to talk HTTP to it.
//!
//! Every test runs against the storage configuration that `FOLIO_TEST_BACKEND` names:
//! `sqlite-files` (the default: a SQLite file and local blobs in the test's folder) or
//! `postgres-s3` (a fresh schema of the machine's PostgreSQL and a fresh prefix in the bucket
//! of the S3 server that `scripts/s3-server.sh` started). `scripts/test.sh` runs this binary
//! once with each.

pub mod library;

use std::future::Future;
use std::path::PathBuf;

use folio::config::{Config, MetricsConfig};
use folio::server::{open_state, RunningServer};
use folio::state::Clock;
use folio::store::blob::BlobStore;
use folio::store::testing::{TestS3, TestSchema};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

/// A listen address on loopback whose port the system picks.
pub const FREE_PORT: &str = "127.0.0.1:0";

/// The storage configuration of this test run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    SqliteFiles,
    PostgresS3,
}

pub fn backend() -> Backend {
    match std::env::var("FOLIO_TEST_BACKEND").as_deref() {
        Ok("postgres-s3") => Backend::PostgresS3,
        Ok("sqlite-files") | Ok("") | Err(_) => Backend::SqliteFiles,
        Ok(other) => panic!("FOLIO_TEST_BACKEND={other}: expected sqlite-files or postgres-s3"),
    }
}

/// The S3 server of the test run; the `postgres-s3` run without one is a broken setup.
pub fn test_s3() -> TestS3 {
    TestS3::from_env().expect(
        "FOLIO_TEST_BACKEND=postgres-s3 needs an S3 server: eval \"$(scripts/s3-server.sh start)\"",
    )
}

/// The shared storage of one or more servers: for `postgres-s3` a schema and a bucket prefix
/// that no other test sees (the schema is dropped with this value).
pub struct Backing {
    pub schema: Option<TestSchema>,
    pub s3: Option<(TestS3, String)>,
}

impl Backing {
    pub async fn fresh() -> Backing {
        match backend() {
            Backend::SqliteFiles => Backing {
                schema: None,
                s3: None,
            },
            Backend::PostgresS3 => {
                let schema = TestSchema::create().await.expect("test schema");
                let s3 = test_s3();
                let url = s3.fresh_url();
                Backing {
                    schema: Some(schema),
                    s3: Some((s3, url)),
                }
            }
        }
    }

    /// Points `config` at this storage (a no-op for `sqlite-files`, whose files live in the
    /// data folder), and its metrics listener at a free port (tests run side by side). Keys a
    /// test set itself are left alone.
    pub fn configure(&self, config: &mut Config) {
        if config.metrics.listen == MetricsConfig::default().listen {
            config.metrics.listen = FREE_PORT.to_owned();
        }
        if let Some(schema) = &self.schema {
            if config.catalog.is_empty() {
                config.catalog = schema.url();
            }
        }
        if let Some((s3, url)) = &self.s3 {
            if config.blobs.is_empty() {
                config.blobs = url.clone();
            }
            if config.s3.access_key_id.is_empty() {
                s3.configure(config);
            }
        }
    }

    /// The same as environment variables, for `folio` processes.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut config = Config::default();
        self.configure(&mut config);
        let mut vars = vec![("FOLIO_METRICS__LISTEN".to_owned(), config.metrics.listen)];
        if !config.catalog.is_empty() {
            vars.push(("FOLIO_CATALOG".to_owned(), config.catalog.clone()));
        }
        if !config.blobs.is_empty() {
            vars.push(("FOLIO_BLOBS".to_owned(), config.blobs.clone()));
            vars.push((
                "FOLIO_S3__ACCESS_KEY_ID".to_owned(),
                config.s3.access_key_id,
            ));
            vars.push((
                "FOLIO_S3__SECRET_ACCESS_KEY".to_owned(),
                config.s3.secret_access_key,
            ));
        }
        vars
    }
}

/// Sleeps until just after the system clock starts a new fixed window of `secs` seconds (a rate
/// limit's), so that the requests sent next fall into one window.
pub async fn start_of_window(secs: u64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64;
    let window = secs * 1000;
    tokio::time::sleep(std::time::Duration::from_millis(window - now % window + 20)).await;
}

/// Runs `f` to completion on a runtime of its own, on another thread: for the synchronous
/// helpers that must talk to S3 while the test's own runtime is busy waiting for them.
pub fn block_on_side<T: Send>(f: impl Future<Output = T> + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime")
                    .block_on(f)
            })
            .join()
            .expect("side thread")
    })
}

/// Wire messages several test modules check.
pub mod wire {
    pub const REUSED: &str = "Your request contains a token that has already been used.";
    pub const CHECKS_FAILED: &str = "Your request failed 'checks' validation.";
}

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/fixtures");

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).expect("fixture")
}

/// A black PNG of `width`×`height` 8-bit grey pixels: a few hundred KiB for a picture of a
/// hundred million pixels (what a render-amplification request starts from).
pub fn solid_png(width: u32, height: u32) -> Vec<u8> {
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    use image::ImageEncoder;
    let pixels = vec![0u8; width as usize * height as usize];
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::NoFilter)
        .write_image(&pixels, width, height, image::ExtendedColorType::L8)
        .expect("encode png");
    out
}

/// The delivery URL of an uploaded file (its upload response) with `tr:<tr>` before its path.
pub fn with_tr(body: &Value, tr: &str) -> String {
    let url = body["url"].as_str().expect("url");
    let path = body["filePath"].as_str().expect("filePath");
    let base = url.strip_suffix(path).expect("url ends with the path");
    format!("{base}/tr:{tr}{path}")
}

/// The samples of the OpenMetrics exposition at `addr` (a metrics listener): `name{labels}` →
/// value. Panics on a line that is not a comment, a sample or the final `# EOF`.
pub async fn scrape_metrics(addr: &str) -> std::collections::BTreeMap<String, f64> {
    let response = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("scrape");
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("application/openmetrics-text"));
    let text = response.text().await.expect("text");
    assert!(text.ends_with("# EOF\n"), "not OpenMetrics: {text}");
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
            let value = value.parse().unwrap_or_else(|_| panic!("{line}"));
            (series.to_owned(), value)
        })
        .collect()
}

pub struct TestApp {
    pub server: Option<RunningServer>,
    pub base: String,
    pub public_key: String,
    pub private_key: String,
    pub client: reqwest::Client,
    pub data: tempfile::TempDir,
    /// The configuration the server runs with.
    pub config: Config,
    /// Dropped after the server fields above: the schema outlives the server's last query.
    _backing: Backing,
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or("<no message>")
    }

    /// An error with this status and wire message, and a machine `code` of some kind.
    #[track_caller]
    pub fn assert_error(&self, status: u16, message: &str) -> &Self {
        assert_eq!(
            (self.status, self.message()),
            (status, message),
            "body: {}",
            self.body
        );
        assert!(self.body["help"].is_string(), "help missing: {}", self.body);
        let code = self.body["code"].as_str().unwrap_or_default();
        assert!(
            !code.is_empty() && code.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
            "code missing or malformed: {}",
            self.body
        );
        self
    }

    /// The error body's `code` is this one.
    #[track_caller]
    pub fn assert_code(&self, code: &str) -> &Self {
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        self
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Value {
        assert_eq!(self.status, 200, "body: {}", self.body);
        &self.body
    }
}

pub struct Builder {
    config: Config,
    clock: Clock,
    keys: Option<(String, String)>,
    demo: bool,
}

impl TestApp {
    pub fn builder() -> Builder {
        let mut config = Config {
            listen: "127.0.0.1:0".parse().expect("addr"),
            ..Config::default()
        };
        // Durability has its own test; the rest need not wait for the disk.
        config.storage.fsync = false;
        // Tests run side by side against one PostgreSQL server: a small pool each.
        config.postgres.max_connections = 8;
        Builder {
            config,
            clock: Clock::System,
            keys: None,
            demo: false,
        }
    }

    pub async fn start() -> TestApp {
        Self::builder().start().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Every blob (its key) in the store, staging files of the local store included.
    pub fn stored_blobs(&self) -> Vec<String> {
        let url = self.config.blobs_url();
        if url.starts_with("s3://") {
            let settings = self.config.s3.clone();
            return block_on_side(async move {
                let store = BlobStore::open_s3(&url, &settings).expect("open S3");
                let mut keys = store.list_all_keys().await.expect("list S3");
                keys.sort();
                keys
            });
        }
        let root = self.data.path().join("blobs");
        let mut out = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    out.push(
                        path.strip_prefix(&root)
                            .expect("under root")
                            .display()
                            .to_string(),
                    );
                }
            }
        }
        out.sort();
        out
    }

    /// Waits until no blob without a catalog row is left (guards delete in the background).
    pub async fn assert_no_orphan_blobs(&self, expected_committed: usize) {
        for _ in 0..100 {
            if self
                .stored_blobs()
                .iter()
                .filter(|b| b.starts_with("v/"))
                .count()
                == expected_committed
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!(
            "expected {expected_committed} blobs, found {:?}",
            self.stored_blobs()
        );
    }

    pub fn basic(&self) -> String {
        use base64::Engine;
        let raw = format!("{}:do_not_set", self.private_key);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    /// POSTs a multipart form; `auth` is a full Authorization header value.
    pub async fn post(&self, path: &str, form: Form, auth: Option<&str>) -> Reply {
        let mut request = self.client.post(self.url(path)).multipart(form);
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        let response = request.send().await.expect("request");
        Self::reply(response).await
    }

    /// POSTs `body` as it is, with `content_type`; `auth` is a full Authorization header value.
    pub async fn post_body(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
        auth: Option<&str>,
    ) -> Reply {
        let mut request = self
            .client
            .post(self.url(path))
            .header("Content-Type", content_type)
            .body(body);
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        let response = request.send().await.expect("request");
        Self::reply(response).await
    }

    /// A media API call with the app's Basic credentials and `body` as JSON (if any).
    pub async fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Reply {
        let raw = body.map(|b| b.to_string());
        self.api_raw(method, path, raw.as_deref(), Some(&self.basic()))
            .await
    }

    /// A media API call with `body` sent as it is (`application/json`) and `auth` as the full
    /// Authorization header (none when `None`).
    pub async fn api_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&str>,
        auth: Option<&str>,
    ) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_owned());
        }
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        Self::reply(request.send().await.expect("request")).await
    }

    /// Uploads `bytes` as `name` into `folder` (no unique suffix, overwriting): the file
    /// object.
    pub async fn put_file(&self, bytes: Vec<u8>, folder: &str, name: &str) -> Value {
        self.upload(
            bytes,
            &[
                ("fileName", name),
                ("folder", folder),
                ("useUniqueFileName", "false"),
            ],
        )
        .await
        .assert_ok()
        .clone()
    }

    /// Polls a job or purge status path (`/v1/bulkJobs/{id}`, `/v1/files/purge/{id}`) until
    /// it says `Completed` (at most 30 s); the last status object.
    pub async fn await_completed(&self, status_path: &str) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let reply = self.api(reqwest::Method::GET, status_path, None).await;
            let body = reply.assert_ok().clone();
            if body["status"] == "Completed" {
                return body;
            }
            assert_eq!(body["status"], "Pending", "{body}");
            assert!(
                std::time::Instant::now() < deadline,
                "{status_path} still pending after 30 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The `filePath`s of every current file under a folder (recursively), sorted.
    pub async fn paths_under(&self, folder: &str) -> Vec<String> {
        let reply = self
            .api(
                reqwest::Method::GET,
                &format!(
                    "/v1/files?searchQuery={}&limit=1000",
                    urlencoded_value(&format!("path : \"{folder}\""))
                ),
                None,
            )
            .await;
        let mut paths: Vec<String> = reply
            .assert_ok()
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|f| f["filePath"].as_str().map(str::to_owned))
            .collect();
        paths.sort();
        paths
    }

    /// File bytes held right now by uploads whose credentials are not proven yet.
    pub fn unproven_bytes_held(&self) -> u64 {
        self.server
            .as_ref()
            .expect("server")
            .state
            .unproven_files
            .held()
    }

    pub async fn reply(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// A server-side (Basic) v2 upload of `bytes` with text fields.
    pub async fn upload(&self, bytes: Vec<u8>, fields: &[(&str, &str)]) -> Reply {
        let form = form_with_file(bytes, fields);
        self.post("/api/v2/files/upload", form, Some(&self.basic()))
            .await
    }

    /// A client-side v2 upload: a fresh token for exactly `fields`.
    pub async fn upload_with_token(&self, bytes: Vec<u8>, fields: &[(&str, &str)]) -> Reply {
        let token = self.token(fields);
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("token", &token));
        let form = form_with_file(bytes, &all);
        self.post("/api/v2/files/upload", form, None).await
    }

    pub fn token(&self, fields: &[(&str, &str)]) -> String {
        let mut builder = folio_token::UploadToken::new(&self.public_key, &self.private_key);
        for (k, v) in fields {
            builder = builder.param(*k, *v);
        }
        builder.sign().expect("token")
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.client.get(url).send().await.expect("get")
    }

    /// The account endpoint every delivery URL of the default account starts with.
    pub fn url_endpoint(&self) -> String {
        format!("{}/default", self.config.delivery_url())
    }

    /// The environment under which a `folio` command (not `serve`) works on this app's
    /// catalog and blobs and builds the URLs this server answers: its data folder, the
    /// `postgres-s3` storage when that backend runs, and its address as `public_url`.
    pub fn cli_env(&self) -> Vec<(String, String)> {
        let mut env = self._backing.env();
        // Stores the test chose itself win over the run's backend.
        for (var, value) in [
            ("FOLIO_CATALOG", &self.config.catalog),
            ("FOLIO_BLOBS", &self.config.blobs),
        ] {
            if !value.is_empty() {
                env.retain(|(k, _)| k != var);
                env.push((var.to_owned(), value.clone()));
            }
        }
        env.push((
            "FOLIO_DATA_DIR".to_owned(),
            self.data.path().display().to_string(),
        ));
        env.push(("FOLIO_PUBLIC_URL".to_owned(), self.base.clone()));
        env
    }

    /// The catalog this server runs on, for changes no endpoint makes (keys).
    pub fn catalog(&self) -> &folio::store::DynCatalog {
        &self.server.as_ref().expect("server").state.catalog
    }

    /// Writes an object straight into the blob store, past the upload pipeline (what a crash
    /// between the blob write and the catalog commit leaves).
    /// One sweep of this server's library, as if its orphan grace were `grace_secs`. The
    /// server itself keeps its own grace, so that its start-up sweep never takes the blob of an
    /// upload still on its way to its commit.
    pub async fn sweep_with_grace(&self, grace_secs: u64) -> folio::sweeper::SweepReport {
        let mut state = self.server.as_ref().expect("server").state.clone();
        let mut config = (*state.config).clone();
        config.storage.orphan_grace_secs = grace_secs;
        state.config = std::sync::Arc::new(config);
        folio::sweeper::sweep_once(&state).await.expect("sweep")
    }

    /// Runs `sql` on the catalog behind the server's back (damage for `folio fsck` to find).
    pub async fn execute_sql(&self, sql: &str) {
        use sqlx::Connection;
        let url = self.config.catalog_url();
        if url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(&url)
                .await
                .expect("the SQLite catalog");
            sqlx::query(sql).execute(&mut conn).await.expect(sql);
        } else {
            let mut conn = sqlx::PgConnection::connect(&url)
                .await
                .expect("the PostgreSQL catalog");
            sqlx::query(sql).execute(&mut conn).await.expect(sql);
        }
    }

    pub async fn plant_blob(&self, key: &str, bytes: &'static [u8]) {
        let state = &self.server.as_ref().expect("server").state;
        state
            .blobs
            .put(key, bytes::Bytes::from_static(bytes))
            .await
            .expect("plant blob");
    }
}

/// A signed delivery URL as the SDKs build it (media-api §4), written here from the spec
/// rather than taken from the server's code: HMAC-SHA1 over `relative` (the URL after
/// `url_endpoint + "/"`) followed by the expiry, `ik-t` only when an expiry is given.
pub fn sign_url(
    private_key: &str,
    url_endpoint: &str,
    relative: &str,
    expiry: Option<i64>,
) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(private_key.as_bytes()).expect("key");
    mac.update(format!("{relative}{}", expiry.unwrap_or(9_999_999_999)).as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    let separator = if relative.contains('?') { '&' } else { '?' };
    match expiry {
        Some(t) => format!("{url_endpoint}/{relative}{separator}ik-t={t}&ik-s={signature}"),
        None => format!("{url_endpoint}/{relative}{separator}ik-s={signature}"),
    }
}

/// What a `folio` command printed, and whether it succeeded.
pub struct CliRun {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the real `folio` binary with `args` and `env` (no config file of the caller's, no
/// `FOLIO_*` key variables), bounded in time.
pub async fn run_folio(args: &[&str], env: &[(String, String)]) -> CliRun {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_folio"));
    command
        .args(args)
        .env_remove("FOLIO_CONFIG")
        .env_remove("FOLIO_PUBLIC_KEY")
        .env_remove("FOLIO_PRIVATE_KEY")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), command.output())
        .await
        .expect("folio finishes within 60 s")
        .expect("run folio");
    CliRun {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Text fields first, then the file part (named like a browser would).
pub fn form_with_file(bytes: Vec<u8>, fields: &[(&str, &str)]) -> Form {
    let mut form = Form::new();
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    form.part("file", Part::bytes(bytes).file_name("upload.bin"))
}

/// The file part first, then the text fields: the order in which the official browser SDK
/// sends its documented call `upload({file, fileName, token, signature, expire, publicKey})`.
pub fn form_file_first(bytes: Vec<u8>, fields: &[(&str, &str)]) -> Form {
    let mut form = Form::new().part("file", Part::bytes(bytes).file_name("upload.bin"));
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    form
}

/// An `application/x-www-form-urlencoded` body of `pairs`, in order.
pub fn urlencoded(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A multipart body framed by hand, for what a well-behaved client never sends (a preamble,
/// overlong headers): `preamble`, then one part per `(name, content)` (`file` as a binary
/// part), then the close delimiter.
/// Sends a raw HTTP/1.1 request as a client that does not read before it has sent everything
/// (undici, and so the Node SDK): the head and the first KiB of `body`, a pause in which the
/// server can answer early, then the rest. Returns the whole answer (the request should say
/// `Connection: close`); panics on a reset, which is what such a client would get.
pub async fn send_after_a_pause(addr: &str, head: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
        socket.write_all(head.as_bytes()).await.expect("head");
        let (first, rest) = body.split_at(body.len().min(1024));
        socket.write_all(first).await.expect("first bytes");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        socket
            .write_all(rest)
            .await
            .expect("the rest of the body is still accepted");
        let mut answer = Vec::new();
        socket
            .read_to_end(&mut answer)
            .await
            .expect("the answer, not a reset");
        String::from_utf8_lossy(&answer).into_owned()
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), exchange)
        .await
        .expect("exchange within 30 s")
}

pub fn raw_multipart(boundary: &str, preamble: &[u8], parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = preamble.to_vec();
    for (name, content) in parts {
        let filename = if *name == "file" {
            "; filename=\"upload.bin\""
        } else {
            ""
        };
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"{filename}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").as_bytes());
    body
}

pub fn form(fields: &[(&str, &str)]) -> Form {
    let mut form = Form::new();
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    form
}

impl Builder {
    pub fn config(mut self, f: impl FnOnce(&mut Config)) -> Self {
        f(&mut self.config);
        self
    }

    pub fn clock(mut self, now: i64) -> Self {
        self.clock = Clock::Fixed(now);
        self
    }

    /// Demo mode, as `folio serve --demo`: the page at `/demo/` and the token endpoint
    /// `/demo/auth`, signing with the app's key pair.
    pub fn demo(mut self) -> Self {
        self.demo = true;
        self
    }

    /// Use this key pair (e.g. the spec's test-vector keys) instead of a generated one.
    pub fn keys(mut self, public: &str, private: &str) -> Self {
        self.keys = Some((public.to_owned(), private.to_owned()));
        self
    }

    pub async fn start(mut self) -> TestApp {
        let data = tempfile::tempdir().expect("tempdir");
        self.config.data_dir = PathBuf::from(data.path());
        let backing = Backing::fresh().await;
        backing.configure(&mut self.config);
        let (mut state, created) = open_state(self.config).await.expect("state");
        state.clock = self.clock;
        let created = created.expect("fresh catalog creates the default account");
        let (public_key, private_key) = match self.keys {
            Some((public, private)) => {
                state
                    .catalog
                    .import_key(&public, &private)
                    .await
                    .expect("import key");
                (public, private)
            }
            None => (created.public_key, created.private_key),
        };
        if self.demo {
            state.demo = Some(std::sync::Arc::new(folio::web::Demo::new(
                &public_key,
                &private_key,
            )));
        }
        let server = folio::server::start(state).await.expect("start");
        let config = (*server.state.config).clone();
        let base = format!("http://{}", server.addr);
        TestApp {
            server: Some(server),
            base,
            public_key,
            private_key,
            client: reqwest::Client::new(),
            data,
            config,
            _backing: backing,
        }
    }
}

/// A `folio serve` process, as a user runs it: the real binary on 127.0.0.1:0, killed (SIGKILL)
/// when this value is dropped, whatever happens to the test.
pub struct FolioProcess {
    child: std::process::Child,
    /// `host:port` it listens on.
    pub addr: String,
    /// The key pair, printed only by the start that created the default account.
    pub keys: Option<(String, String)>,
    /// `host:port` of its metrics listener, when it has one.
    pub metrics_addr: Option<String>,
    /// Address and keys, until [`Self::ready`] has read them.
    banner: Option<std::sync::mpsc::Receiver<Banner>>,
    /// Where its log (stderr) goes: `serve.log` in the data folder, appended by every start.
    log: std::path::PathBuf,
}

/// What `folio serve` prints when it starts: its address, its metrics address and, on the first
/// start, the keys.
type Banner = (String, Option<String>, Option<(String, String)>);

impl FolioProcess {
    /// Starts `folio serve --listen 127.0.0.1:0 --data-dir <data> <extra args>` with `env` (and no
    /// `FOLIO_CONFIG` of the caller's), and waits (at most 60 s) for its "listening" line.
    pub fn start(data: &std::path::Path, extra_args: &[&str], env: &[(String, String)]) -> Self {
        Self::spawn(data, extra_args, env).ready()
    }

    /// [`Self::start`] without waiting: several processes spawned this way start at once (their
    /// bootstraps race); call [`Self::ready`] on each.
    pub fn spawn(data: &std::path::Path, extra_args: &[&str], env: &[(String, String)]) -> Self {
        use std::io::{BufRead, BufReader};
        use std::process::{Command, Stdio};
        // `FOLIO_TEST_BIN` runs another build (e.g. an older release, to see a regression
        // test fail on the code before its fix).
        let program = std::env::var_os("FOLIO_TEST_BIN")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_folio").into());
        let log = data.join("serve.log");
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("the server's log file");
        let mut child = Command::new(program)
            .args(["serve", "--listen", FREE_PORT, "--data-dir"])
            .arg(data)
            .args(extra_args)
            .env_remove("FOLIO_CONFIG")
            // Processes run side by side; `env` may say otherwise.
            .env("FOLIO_METRICS__LISTEN", FREE_PORT)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn folio");
        let stdout = child.stdout.take().expect("stdout");
        // The banner is read on a thread, so that a process that never prints it fails the test
        // after the timeout instead of hanging it.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let (mut public, mut private, mut metrics) = (None, None, None);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let trimmed = line.trim();
                if let Some(rest) = trimmed.strip_prefix("Metrics: http://") {
                    metrics = rest.strip_suffix("/metrics").map(str::to_owned);
                } else if let Some(k) = trimmed.strip_prefix("public key:") {
                    public = Some(k.trim().to_owned());
                } else if let Some(k) = trimmed.strip_prefix("private key:") {
                    private = Some(k.trim().to_owned());
                } else if let Some(rest) = line.strip_prefix("Folio listening on http://") {
                    let addr = rest
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    let _ = tx.send((addr, metrics.take(), public.take().zip(private.take())));
                    // Keep draining stdout so the process never blocks on a full pipe.
                }
            }
        });
        FolioProcess {
            child,
            addr: String::new(),
            keys: None,
            metrics_addr: None,
            banner: Some(rx),
            log,
        }
    }

    /// The first line of its log that holds every one of `needles`, waited for (at most 10 s:
    /// a request's line is written as its response goes out).
    pub async fn log_line(&self, needles: &[&str]) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            if let Some(line) = log
                .lines()
                .find(|line| needles.iter().all(|n| line.contains(n)))
            {
                return line.to_owned();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no log line with {needles:?} in:\n{log}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Everything it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (at most 60 s) for the "listening" line of a [`Self::spawn`]ed process.
    pub fn ready(mut self) -> Self {
        if let Some(banner) = self.banner.take() {
            let (addr, metrics, keys) = banner
                .recv_timeout(std::time::Duration::from_secs(60))
                .expect("folio serve prints its address");
            self.addr = addr;
            self.metrics_addr = metrics;
            self.keys = keys;
        }
        self
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A `kB` line of `/proc/<pid>/status` (`VmRSS` now, `VmHWM` the peak so far), in KiB.
    pub fn memory_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("/proc/<pid>/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{field} in /proc/<pid>/status"))
    }
}

impl Drop for FolioProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One query-string value, percent-encoded.
pub fn urlencoded_value(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// One request a [`Receiver`] got.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub path: String,
    pub headers: http::HeaderMap,
    pub body: String,
    /// What the receiver answered.
    pub status: u16,
}

impl Delivery {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// What a [`Receiver`] answers: a status and a body, after a delay.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub delay: std::time::Duration,
}

impl Answer {
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            body: serde_json::json!({}),
            delay: std::time::Duration::ZERO,
        }
    }
}

#[derive(Default)]
struct ReceiverState {
    got: Vec<Delivery>,
    /// Answered in order, one per request; then `otherwise`.
    next: std::collections::VecDeque<Answer>,
    otherwise: Option<Answer>,
}

/// An HTTP receiver on 127.0.0.1 for webhooks and extension runners: it records every request
/// and answers what it is told (200 `{}` by default). Stops when dropped.
pub struct Receiver {
    pub base: String,
    state: std::sync::Arc<std::sync::Mutex<ReceiverState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        use axum::extract::State;
        type Shared = std::sync::Arc<std::sync::Mutex<ReceiverState>>;
        async fn record(
            State(state): State<Shared>,
            uri: http::Uri,
            headers: http::HeaderMap,
            body: String,
        ) -> axum::response::Response {
            use axum::response::IntoResponse;
            let answer = {
                let mut state = state.lock().expect("lock");
                let answer = state
                    .next
                    .pop_front()
                    .or_else(|| state.otherwise.clone())
                    .unwrap_or_else(|| Answer::status(200));
                state.got.push(Delivery {
                    path: uri.path().to_owned(),
                    headers,
                    body,
                    status: answer.status,
                });
                answer
            };
            tokio::time::sleep(answer.delay).await;
            let status = http::StatusCode::from_u16(answer.status).unwrap_or(http::StatusCode::OK);
            (status, axum::Json(answer.body)).into_response()
        }
        let state: Shared = Default::default();
        let app = axum::Router::new()
            .fallback(axum::routing::post(record))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { base, state, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The next requests get these answers, in order.
    pub fn answer_next(&self, answers: impl IntoIterator<Item = Answer>) {
        self.state.lock().expect("lock").next.extend(answers);
    }

    /// Requests without a queued answer get this one (`None`: 200 `{}`).
    pub fn answer_otherwise(&self, answer: Option<Answer>) {
        self.state.lock().expect("lock").otherwise = answer;
    }

    pub fn received(&self) -> Vec<Delivery> {
        self.state.lock().expect("lock").got.clone()
    }

    /// Waits (at most `secs`) until `accepted` requests were answered with a 2xx; all the
    /// requests received by then.
    pub async fn wait_accepted(&self, accepted: usize, secs: u64) -> Vec<Delivery> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let got = self.received();
            let ok = got
                .iter()
                .filter(|d| (200..300).contains(&d.status))
                .count();
            if ok >= accepted {
                return got;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{ok} of {accepted} deliveries accepted within {secs} s; got {got:#?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The requests of a tus 1.0 client (resumable uploads), against a server at `base`.
pub struct Tus {
    pub base: String,
    pub client: reqwest::Client,
}

/// Where resumable uploads are created.
pub const TUS_PATH: &str = "/api/v2/files/upload/resumable";

impl TestApp {
    /// The samples of the server's metrics listener ([`scrape_metrics`]).
    pub async fn metrics(&self) -> std::collections::BTreeMap<String, f64> {
        let addr = self
            .server
            .as_ref()
            .and_then(|s| s.metrics_addr)
            .expect("a metrics listener");
        scrape_metrics(&addr.to_string()).await
    }
}

impl TestApp {
    pub fn tus(&self) -> Tus {
        Tus {
            base: self.base.clone(),
            client: self.client.clone(),
        }
    }
}

impl Tus {
    /// An upload URL as the server gave it (relative or absolute), made absolute.
    pub fn url(&self, location: &str) -> String {
        if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            location.to_owned()
        }
    }

    /// A creation `POST` of `length` bytes with the token as `Authorization: Bearer`, and the
    /// first chunk as its body when given (creation-with-upload).
    pub async fn create(
        &self,
        length: u64,
        token: &str,
        headers: &[(&str, &str)],
        first_chunk: Option<Vec<u8>>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}{TUS_PATH}", self.base))
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", length.to_string());
        if !token.is_empty() {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(chunk) = first_chunk {
            request = request
                .header("Content-Type", "application/offset+octet-stream")
                .body(chunk);
        }
        request.send().await.expect("tus creation")
    }

    /// [`Self::create`] that must succeed: the upload URL, absolute.
    pub async fn created(&self, length: u64, token: &str) -> String {
        let response = self.create(length, token, &[], None).await;
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
        self.url(header_of(&response, "location"))
    }

    /// A `PATCH` of `body` at `offset`, with extra headers.
    pub async fn patch(
        &self,
        location: &str,
        offset: u64,
        body: impl Into<reqwest::Body>,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self
            .client
            .patch(self.url(location))
            .header("Tus-Resumable", "1.0.0")
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", offset.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(body).send().await.expect("tus patch")
    }

    pub async fn head(&self, location: &str) -> reqwest::Response {
        self.client
            .head(self.url(location))
            .header("Tus-Resumable", "1.0.0")
            .send()
            .await
            .expect("tus head")
    }

    /// The offset `HEAD` reports.
    pub async fn offset(&self, location: &str) -> u64 {
        let response = self.head(location).await;
        assert_eq!(response.status(), 200);
        header_of(&response, "upload-offset")
            .parse()
            .expect("numeric offset")
    }
}

/// A response header as text ("" when absent).
pub fn header_of<'r>(response: &'r reqwest::Response, name: &str) -> &'r str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// An `Upload-Metadata` value.
pub fn tus_metadata(pairs: &[(&str, &str)]) -> String {
    use base64::Engine;
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{k} {}",
                base64::engine::general_purpose::STANDARD.encode(v)
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}
