//! One typed configuration, layered: built-in defaults, then a TOML file, then `FOLIO_*`
//! environment variables, then command-line flags (applied by `cli`).
//!
//! Every key is documented in `folio.example.toml` at the repository root. Environment
//! variables name a key by its path: `FOLIO_LISTEN` sets `listen`, `FOLIO_LIMITS__MAX_FILE_SIZE`
//! sets `limits.max_file_size` (sections are separated by a double underscore).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

/// Environment variables with the `FOLIO_` prefix that are not configuration keys
/// (`FOLIO_PUBLIC_KEY` / `FOLIO_PRIVATE_KEY` are `folio token`'s keys, and what an app backend
/// next to Folio is configured with).
const NON_KEY_VARS: &[&str] = &[
    "FOLIO_CONFIG",
    "FOLIO_LOG",
    "FOLIO_LOG_FORMAT",
    "FOLIO_PUBLIC_KEY",
    "FOLIO_PRIVATE_KEY",
    // The scripts' own settings (scripts/s3-server.sh, scripts/fuzz.sh): exported for them,
    // they reach `folio` processes started beside them.
    "FOLIO_TOOLS_DIR",
    "FOLIO_S3_STATE_DIR",
];

const MIB: u64 = 1024 * 1024;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server binds to (`localhost:PORT` means `127.0.0.1:PORT`).
    #[serde(deserialize_with = "listen_addr")]
    pub listen: SocketAddr,
    /// Folder for the embedded catalog and the local blob store.
    pub data_dir: PathBuf,
    /// Public base of delivery URLs (no trailing slash). Empty: `http://<listen>`.
    pub public_url: String,
    /// Catalog URL. Empty: `sqlite://<data_dir>/folio.db`.
    #[serde(serialize_with = "url_without_password")]
    pub catalog: String,
    /// Blob store URL. Empty: `file://<data_dir>/blobs`.
    #[serde(serialize_with = "url_without_password")]
    pub blobs: String,
    /// The `help` member of every error body.
    pub help_text: String,
    /// Maintenance mode (`folio serve --read-only`): files and reads are served, every change
    /// is refused with 503, and the background work that writes (sweeper, folder jobs, webhook
    /// deliveries) does not run.
    pub read_only: bool,
    /// The HTTP listener: connection timeouts and caps.
    pub server: ServerConfig,
    pub limits: Limits,
    pub auth: AuthConfig,
    /// Downloads of a `file` given as a URL.
    pub fetch: FetchConfig,
    pub storage: StorageConfig,
    /// Pool settings used when `catalog` is a `postgres://` URL.
    pub postgres: PostgresConfig,
    /// Credentials and client settings used when `blobs` is an `s3://` URL.
    pub s3: S3Config,
    /// Post-upload extensions (spec §3.9): where they run.
    pub extensions: ExtensionsConfig,
    /// Account webhook events and every other durable outbound call (webhooks.md).
    pub webhooks: WebhooksConfig,
    /// Resumable uploads (tus 1.0, resumable.md).
    pub resumable: ResumableConfig,
    /// Serving files and renditions: the delivery origin and the render budget.
    pub delivery: DeliveryConfig,
    /// The Prometheus endpoint.
    pub metrics: MetricsConfig,
    /// Upload requests per client address and per public key (shared by the instances of one
    /// PostgreSQL catalog).
    pub rate_limits: RateLimitsConfig,
    /// What one account may store.
    pub quotas: QuotasConfig,
    /// The media console at `/console/`.
    pub console: ConsoleConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Serve the console at `/console/`. Off: no console routes at all.
    pub enabled: bool,
    /// How long a sign-in lasts (the console asks for the key again after it).
    pub session_ttl_secs: u64,
    /// How long a link printed by `folio console link` may be used (once).
    pub link_ttl_secs: u64,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            enabled: true,
            session_ttl_secs: 12 * 3600,
            link_ttl_secs: 600,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitsConfig {
    /// The counting window: a fixed window, starting on multiples of it.
    pub window_secs: u64,
    /// Upload requests one client address may start per window. 0: no limit.
    pub uploads_per_ip: u64,
    /// Upload requests one public key may authenticate per window. 0: no limit.
    pub uploads_per_key: u64,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        RateLimitsConfig {
            window_secs: 60,
            uploads_per_ip: 0,
            uploads_per_key: 0,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuotasConfig {
    /// Bytes of every version of every file of one account. 0: no quota.
    #[serde(deserialize_with = "byte_size")]
    pub max_bytes_per_account: u64,
    /// Files of one account. 0: no quota.
    pub max_files_per_account: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where `GET /metrics` is served: an address of its own, loopback by default (it answers
    /// anyone who reaches it). Empty: no metrics listener.
    pub listen: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: "127.0.0.1:9464".to_owned(),
        }
    }
}

impl MetricsConfig {
    /// The metrics listener's address, `None` when switched off.
    pub fn addr(&self) -> anyhow::Result<Option<SocketAddr>> {
        if self.listen.trim().is_empty() {
            return Ok(None);
        }
        parse_listen(&self.listen)
            .map(Some)
            .map_err(|e| anyhow::anyhow!("metrics.listen: {e}"))
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Base of the delivery URLs the server hands out (`url`, `thumbnailUrl`), without trailing
    /// slash. Empty: `public_url`. Recommended: an origin of its own that holds no cookies or
    /// credentials, so user content never shares an origin with the API or the demo page.
    pub public_url: String,
    /// Transformations other than the named thumbnail (`tr:w-100`, `?tr=…`) on delivery; off,
    /// they answer 403.
    pub allow_unnamed_transformations: bool,
    /// Distinct transformations cached per file version; beyond it a new one is rendered and
    /// served but not stored.
    pub max_renditions_per_file: usize,
    /// Renders (transformations, thumbnails) running at once per instance; a request waits
    /// for a slot before it reads the original.
    pub render_concurrency: usize,
    /// Largest image rendered at all, in pixels (width × height).
    pub max_input_pixels: u64,
    /// Largest picture one transformation step may make, in pixels.
    pub max_output_pixels: u64,
    /// Most `:`-chained steps in one transformation.
    pub max_steps: usize,
    /// Memory all renders of an instance may hold at once, in bytes: each reserves its
    /// estimated peak from this pool before decoding. So also the most one render may need,
    /// and the decoder's allocation cap.
    #[serde(deserialize_with = "byte_size")]
    pub max_render_memory_bytes: u64,
    /// Estimated work of one render, in pixel operations.
    pub max_render_work: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        let budget = folio_media::RenderLimits::default();
        DeliveryConfig {
            public_url: String::new(),
            allow_unnamed_transformations: true,
            max_renditions_per_file: 50,
            render_concurrency: 2,
            max_input_pixels: budget.max_input_pixels,
            max_output_pixels: budget.max_output_pixels,
            max_steps: budget.max_steps,
            max_render_memory_bytes: budget.max_memory_bytes,
            max_render_work: budget.max_work,
        }
    }
}

impl DeliveryConfig {
    /// The render budget of one transformation or thumbnail.
    pub fn render_limits(&self) -> folio_media::RenderLimits {
        folio_media::RenderLimits {
            max_input_pixels: self.max_input_pixels,
            max_output_pixels: self.max_output_pixels,
            max_steps: self.max_steps,
            max_memory_bytes: self.max_render_memory_bytes,
            max_work: self.max_render_work,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Time from accept to the first complete request head, and from the end of one
    /// HTTP/1.1 response to the next request's complete head (so also the HTTP/1.1
    /// keep-alive timeout).
    pub header_read_timeout_secs: u64,
    /// A connection with no request in progress on which nothing is read or written for this
    /// long is closed (HTTP/2 connections and idle connections in general).
    pub idle_timeout_secs: u64,
    /// Connections open at once; more are refused at accept.
    pub max_connections: usize,
    /// Connections open at once from one client address (IPv6: one /64); 0 = no per-address
    /// cap (behind a reverse proxy, where every connection comes from the proxy).
    pub max_connections_per_ip: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_connections: 1024,
            max_connections_per_ip: 128,
        }
    }
}

impl ServerConfig {
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs)
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExtensionsConfig {
    /// `name=url` entries: the operator's HTTP endpoint that runs the extension `name`.
    /// An extension without an entry is reported `failed`.
    #[serde(deserialize_with = "list_or_comma_separated")]
    pub runners: Vec<String>,
    /// Time allowed for one runner call (connect to the end of the answer).
    pub runner_timeout_secs: u64,
}

impl Default for ExtensionsConfig {
    fn default() -> Self {
        ExtensionsConfig {
            runners: Vec::new(),
            runner_timeout_secs: 60,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResumableConfig {
    /// Whether `/api/v2/files/upload/resumable` accepts uploads.
    pub enabled: bool,
    /// An upload lives this long from its creation (`Upload-Expires`), whatever its token's
    /// lifetime; then it and its bytes are removed.
    pub ttl_secs: u64,
    /// Uploads still receiving at once, per key pair.
    pub max_incomplete_per_key: u64,
    /// Sum of the `Upload-Length` of a key pair's uploads still receiving.
    #[serde(deserialize_with = "byte_size")]
    pub max_incomplete_bytes_per_key: u64,
    /// Within one PATCH, the received bytes are made durable and the offset recorded every
    /// this many bytes, so a cut connection keeps them.
    #[serde(deserialize_with = "byte_size")]
    pub checkpoint_bytes: u64,
}

impl Default for ResumableConfig {
    fn default() -> Self {
        ResumableConfig {
            enabled: true,
            ttl_secs: 86_400,
            max_incomplete_per_key: 100,
            max_incomplete_bytes_per_key: 100 * 1024 * MIB,
            checkpoint_bytes: 8 * MIB,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Whether this instance delivers (runs a worker). Off, it still records events; other
    /// instances deliver them (or this one after a restart with it on).
    pub deliver: bool,
    /// Time allowed for one delivery attempt (connect to the end of the answer); only a 2xx
    /// within it counts.
    pub timeout_secs: u64,
    /// Wait before the first retry; doubled after every failed attempt, with jitter.
    pub retry_initial_ms: u64,
    /// Upper bound on the wait between two attempts.
    pub retry_max_ms: u64,
    /// Retries stop this long after the event was recorded.
    pub max_age_secs: u64,
    /// Deliveries in flight at once, per instance.
    pub concurrency: usize,
    /// How long a rotated-out secret keeps signing beside the new one.
    pub rotation_grace_secs: u64,
    /// How long delivered and failed rows stay in the delivery log.
    pub log_retention_secs: u64,
    /// Endpoints declared here; the catalog is brought in step with this list at start.
    pub endpoints: Vec<EndpointConfig>,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            deliver: true,
            timeout_secs: 30,
            retry_initial_ms: 10_000,
            retry_max_ms: 3_600_000,
            max_age_secs: 86_400,
            concurrency: 32,
            rotation_grace_secs: 86_400,
            log_retention_secs: 7 * 86_400,
            endpoints: Vec::new(),
        }
    }
}

/// One `[[webhooks.endpoints]]` table.
#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    pub url: String,
    /// The signing secret receivers verify with (at least 24 characters).
    #[serde(serialize_with = "secret")]
    pub secret: String,
    /// Event types; empty or absent: every event.
    #[serde(default)]
    pub events: Vec<String>,
    /// The account's URL id.
    #[serde(default = "default_account")]
    pub account: String,
}

fn default_account() -> String {
    "default".to_owned()
}

impl std::fmt::Debug for EndpointConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointConfig")
            .field("url", &self.url)
            .field("events", &self.events)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl WebhooksConfig {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }
}

impl ExtensionsConfig {
    /// The runner URL of each configured extension name.
    pub fn runner_map(&self) -> anyhow::Result<std::collections::HashMap<String, reqwest::Url>> {
        let mut map = std::collections::HashMap::new();
        for entry in &self.runners {
            let (name, url) = entry
                .split_once('=')
                .with_context(|| format!("{entry:?} is not name=url"))?;
            let (name, url) = (name.trim(), url.trim());
            if name.is_empty() {
                bail!("{entry:?}: empty extension name");
            }
            let url =
                reqwest::Url::parse(url).with_context(|| format!("{entry:?}: invalid URL"))?;
            if !matches!(url.scheme(), "http" | "https") {
                bail!("{entry:?}: the URL must be http or https");
            }
            if map.insert(name.to_owned(), url).is_some() {
                bail!("extension {name:?} has two runners");
            }
        }
        Ok(map)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest accepted file that is not a video, in bytes.
    #[serde(deserialize_with = "byte_size")]
    pub max_file_size: u64,
    /// Largest accepted video (detected MIME type `video/*`), in bytes.
    #[serde(deserialize_with = "byte_size")]
    pub max_video_size: u64,
    /// Versions a file may have (current and non-current).
    pub max_versions_per_file: u32,
    /// Text fields one upload request may carry.
    pub max_text_fields: usize,
    /// Largest text field other than `file`, in bytes.
    #[serde(deserialize_with = "byte_size")]
    pub max_text_field_bytes: u64,
    /// Largest sum of all text fields of one request (`file` excluded), in bytes.
    #[serde(deserialize_with = "byte_size")]
    pub max_text_bytes_total: u64,
    /// Largest multipart preamble and part header block (and form-encoded field name), in
    /// bytes: what the parser must hold whole before it knows what a part is.
    #[serde(deserialize_with = "byte_size")]
    pub max_part_header_bytes: usize,
    /// File bytes that all uploads whose credentials are not proven yet may hold together
    /// (a `file` sent before the fields that authenticate it streams to storage meanwhile).
    #[serde(deserialize_with = "byte_size")]
    pub unauthenticated_file_bytes: u64,
    /// Refuse a `file` that arrives before the credentials once it passes a 64 KiB prefix,
    /// instead of budgeting it (breaks clients that send the credentials last).
    pub credentials_before_file: bool,
    /// An upload whose body sends nothing for this long is abandoned.
    pub idle_body_timeout_secs: u64,
    /// Upload requests (multipart, resumable creation and PATCH) one instance serves at once;
    /// one more is refused with 503 and `retry-after`, never queued. 0: no cap.
    pub max_concurrent_uploads: usize,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Tolerance for a JWT `iat` in the future (clock skew between the minting backend and us).
    pub clock_leeway_secs: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FetchConfig {
    /// Time allowed for the response headers (the whole redirect chain, connects included);
    /// the contract's `url_fetch_header_timeout`.
    pub header_timeout_secs: u64,
    /// A download whose body sends nothing for this long is abandoned.
    pub idle_timeout_secs: u64,
    /// Redirects followed at most; every target is checked like the first URL.
    pub max_redirects: usize,
    /// CIDRs (`10.1.2.0/24`, `fd00::/8`, a bare address) and host names that may be fetched
    /// although they are not public. Empty: only public addresses (SSRF protection).
    #[serde(deserialize_with = "list_or_comma_separated")]
    pub allow: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// fsync every blob (and its directory) before the catalog commit, and run the embedded
    /// catalog with `synchronous=FULL`. Off, an acknowledged upload still survives a crash of
    /// the process, but not of the machine.
    pub fsync: bool,
    /// How often unreferenced blobs (crash leftovers) are looked for.
    pub sweep_interval_secs: u64,
    /// A blob younger than this is never swept: it may belong to an upload in flight.
    pub orphan_grace_secs: u64,
    /// Bytes an upload buffers before each write to the local disk (S3 has its part size).
    #[serde(deserialize_with = "byte_size")]
    pub write_buffer_bytes: usize,
    /// How long an instance holds a background job (folder copy/move/rename, purge) without
    /// saving progress; a job whose holder died is resumed by any instance after this.
    pub job_lease_secs: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PostgresConfig {
    /// Connections one instance keeps open at most (all instances together must stay below
    /// the server's `max_connections`).
    pub max_connections: u32,
    /// How long a request waits for a free (or new) connection before it fails with a 500.
    pub acquire_timeout_secs: u64,
    /// Apply pending migrations when the server starts. Off, the server refuses to start
    /// unless `folio migrate` has already brought the schema up to this version.
    pub migrate_on_start: bool,
}

#[derive(Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    /// Access key id; empty: `AWS_ACCESS_KEY_ID` (or the instance's role).
    pub access_key_id: String,
    /// Secret access key; empty: `AWS_SECRET_ACCESS_KEY`.
    #[serde(serialize_with = "secret")]
    pub secret_access_key: String,
    /// Part size of multipart uploads, in bytes (S3's minimum is 5 MiB). Also the size up to
    /// which an upload is sent in one PUT; memory per upload is about three parts.
    #[serde(deserialize_with = "byte_size")]
    pub part_size_bytes: usize,
    /// Timeout of one request to the store (a part upload included).
    pub request_timeout_secs: u64,
    /// Timeout for opening a connection to the store.
    pub connect_timeout_secs: u64,
    /// Retries of a failed request (with backoff) before the upload fails.
    pub max_retries: usize,
    /// Upper bound on the time spent retrying one request.
    pub retry_timeout_secs: u64,
}

impl std::fmt::Debug for S3Config {
    // The secret must never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &if self.secret_access_key.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .field("part_size_bytes", &self.part_size_bytes)
            .field("request_timeout_secs", &self.request_timeout_secs)
            .field("connect_timeout_secs", &self.connect_timeout_secs)
            .field("max_retries", &self.max_retries)
            .field("retry_timeout_secs", &self.retry_timeout_secs)
            .finish()
    }
}

impl Default for PostgresConfig {
    fn default() -> Self {
        PostgresConfig {
            max_connections: 16,
            acquire_timeout_secs: 5,
            migrate_on_start: true,
        }
    }
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            access_key_id: String::new(),
            secret_access_key: String::new(),
            part_size_bytes: 8 * MIB as usize,
            request_timeout_secs: 30,
            connect_timeout_secs: 5,
            max_retries: 3,
            retry_timeout_secs: 15,
        }
    }
}

/// S3's smallest part of a multipart upload (all but the last part).
pub const S3_MIN_PART_SIZE: usize = 5 * MIB as usize;

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            public_url: String::new(),
            catalog: String::new(),
            blobs: String::new(),
            help_text: "For support, contact the administrator of this server.".to_owned(),
            read_only: false,
            server: ServerConfig::default(),
            limits: Limits::default(),
            auth: AuthConfig::default(),
            fetch: FetchConfig::default(),
            storage: StorageConfig::default(),
            postgres: PostgresConfig::default(),
            s3: S3Config::default(),
            extensions: ExtensionsConfig::default(),
            webhooks: WebhooksConfig::default(),
            resumable: ResumableConfig::default(),
            delivery: DeliveryConfig::default(),
            metrics: MetricsConfig::default(),
            rate_limits: RateLimitsConfig::default(),
            quotas: QuotasConfig::default(),
            console: ConsoleConfig::default(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_size: 25 * MIB,
            max_video_size: 300 * MIB,
            max_versions_per_file: 100,
            max_text_fields: 100,
            max_text_field_bytes: MIB,
            max_text_bytes_total: 2 * MIB,
            max_part_header_bytes: 16 * 1024,
            unauthenticated_file_bytes: 2048 * MIB,
            credentials_before_file: false,
            idle_body_timeout_secs: 30,
            max_concurrent_uploads: 0,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            clock_leeway_secs: 60,
        }
    }
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            header_timeout_secs: 8,
            idle_timeout_secs: 30,
            max_redirects: 5,
            allow: Vec::new(),
        }
    }
}

impl FetchConfig {
    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_timeout_secs)
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }
}

/// A TOML array, or one string of comma-separated entries (what an environment variable can
/// carry: `FOLIO_FETCH__ALLOW=10.0.0.0/8,files.internal`).
fn list_or_comma_separated<'de, D>(deserializer: D) -> Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrString {
        List(Vec<String>),
        String(String),
    }
    Ok(match ListOrString::deserialize(deserializer)? {
        ListOrString::List(list) => list,
        ListOrString::String(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            fsync: true,
            sweep_interval_secs: 600,
            orphan_grace_secs: 3600,
            write_buffer_bytes: 256 * 1024,
            job_lease_secs: 60,
        }
    }
}

impl Limits {
    /// The transport cap (spec §6): the largest limit with room for base64 inflation.
    pub fn hard_cap(&self) -> u64 {
        self.max_file_size.max(self.max_video_size) / 3 * 4 + MIB
    }

    pub fn idle_body_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_body_timeout_secs)
    }
}

impl Config {
    /// How long a delivery worker's claim holds an outbox row: the longest attempt (a webhook
    /// POST, or an extension job calling every runner in turn) and a margin to record its
    /// outcome. An instance that dies holding rows delays them by this much; no other instance
    /// attempts them meanwhile.
    pub fn delivery_lease_ms(&self) -> i64 {
        let runners = u64::try_from(self.extensions.runners.len().max(1)).unwrap_or(u64::MAX);
        let longest = self
            .webhooks
            .timeout_secs
            .max(self.extensions.runner_timeout_secs.saturating_mul(runners));
        i64::try_from(longest.saturating_add(5).saturating_mul(1000)).unwrap_or(i64::MAX)
    }

    /// Defaults, then the TOML file (if any), then `FOLIO_*` variables from `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Config> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading config file {}", path.display()))?;
                text.parse::<toml::Table>()
                    .with_context(|| format!("parsing config file {}", path.display()))?
            }
            None => toml::Table::new(),
        };
        // Which variable set which key (dotted), to name it when the key is refused.
        let mut from_env: Vec<(String, String)> = Vec::new();
        for (name, value) in env {
            let Some(key) = name.strip_prefix("FOLIO_") else {
                continue;
            };
            // FOLIO_TEST_* configure the test suite (backend, test servers); `folio`
            // processes that tests start inherit them.
            if NON_KEY_VARS.contains(&name.as_str()) || name.starts_with("FOLIO_TEST_") {
                continue;
            }
            let key = key.to_ascii_lowercase();
            set_path(&mut table, &key, &value)
                .with_context(|| format!("environment variable {name}"))?;
            from_env.push((key.replace("__", "."), name));
        }
        let config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let key = e.path().to_string();
                let problem = e.inner().to_string();
                match (culprit(&from_env, &key, &problem), file) {
                    (Some(var), _) => anyhow::anyhow!("environment variable {var}: {problem}"),
                    (None, Some(path)) => {
                        anyhow::anyhow!("config file {}, key `{key}`: {problem}", path.display())
                    }
                    (None, None) => anyhow::anyhow!("configuration key `{key}`: {problem}"),
                }
            })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.server.header_read_timeout_secs == 0 || self.server.idle_timeout_secs == 0 {
            bail!("server.header_read_timeout_secs and server.idle_timeout_secs must be positive");
        }
        if self.resumable.ttl_secs == 0 || self.resumable.checkpoint_bytes == 0 {
            bail!("resumable.ttl_secs and resumable.checkpoint_bytes must be positive");
        }
        if self.server.max_connections == 0 {
            bail!("server.max_connections must be positive");
        }
        if self.limits.max_file_size == 0 || self.limits.max_video_size == 0 {
            bail!("limits.max_file_size and limits.max_video_size must be positive");
        }
        if self.limits.max_part_header_bytes < 1024 {
            bail!("limits.max_part_header_bytes must be at least 1024");
        }
        if self.limits.unauthenticated_file_bytes == 0 {
            bail!("limits.unauthenticated_file_bytes must be positive");
        }
        if self.limits.max_versions_per_file == 0 {
            bail!("limits.max_versions_per_file must be positive");
        }
        if self.storage.write_buffer_bytes < 64 * 1024 {
            bail!("storage.write_buffer_bytes must be at least 65536");
        }
        if self.s3.part_size_bytes < S3_MIN_PART_SIZE {
            bail!(
                "s3.part_size_bytes must be at least {S3_MIN_PART_SIZE} (S3's minimum part size)"
            );
        }
        if self.postgres.max_connections == 0 {
            bail!("postgres.max_connections must be positive");
        }
        if self.fetch.header_timeout_secs == 0 || self.fetch.idle_timeout_secs == 0 {
            bail!("fetch.header_timeout_secs and fetch.idle_timeout_secs must be positive");
        }
        crate::upload::fetch::AllowList::parse(&self.fetch.allow).context("fetch.allow")?;
        self.extensions.runner_map().context("extensions.runners")?;
        if self.extensions.runner_timeout_secs == 0 {
            bail!("extensions.runner_timeout_secs must be positive");
        }
        let hooks = &self.webhooks;
        if hooks.timeout_secs == 0 || hooks.concurrency == 0 || hooks.retry_initial_ms == 0 {
            bail!("webhooks: timeout_secs, concurrency and retry_initial_ms must be positive");
        }
        for endpoint in &hooks.endpoints {
            crate::webhooks::check_events(&endpoint.events).context("webhooks.endpoints")?;
            crate::webhooks::check_secret(&endpoint.secret).context("webhooks.endpoints")?;
        }
        self.metrics.addr()?;
        if self.rate_limits.window_secs == 0 {
            bail!("rate_limits.window_secs must be positive");
        }
        if self.delivery.render_concurrency == 0 {
            bail!("delivery.render_concurrency must be positive");
        }
        if self.delivery.max_steps == 0 {
            bail!("delivery.max_steps must be positive");
        }
        let delivery_url = &self.delivery.public_url;
        let http = delivery_url.starts_with("http://") || delivery_url.starts_with("https://");
        if !delivery_url.is_empty() && !http {
            bail!("delivery.public_url must be an http(s) URL");
        }
        Ok(())
    }

    /// What to tell the operator when response URLs would name an address no client can open:
    /// listening on every interface (`0.0.0.0`, `[::]`) with no `public_url`.
    pub fn public_url_warning(&self) -> Option<String> {
        (self.listen.ip().is_unspecified() && self.public_url.is_empty()).then(|| {
            format!(
                "public_url is not set: responses will give URLs like {}/default/..., which \
                 other machines cannot open; set public_url (FOLIO_PUBLIC_URL) to the address \
                 clients use",
                self.public_url()
            )
        })
    }

    pub fn public_url(&self) -> String {
        if self.public_url.is_empty() {
            format!("http://{}", self.listen)
        } else {
            self.public_url.trim_end_matches('/').to_owned()
        }
    }

    /// Base of delivery URLs (no trailing slash): `delivery.public_url`, else [`Self::public_url`].
    pub fn delivery_url(&self) -> String {
        if self.delivery.public_url.is_empty() {
            self.public_url()
        } else {
            self.delivery.public_url.trim_end_matches('/').to_owned()
        }
    }

    /// The path of [`Self::delivery_url`] (`/media` for `https://cdn.example/media`; empty for
    /// none): the prefix a proxy that forwards paths unchanged puts before `/<url id>/`.
    pub fn delivery_base_path(&self) -> String {
        let url = self.delivery_url();
        let after_scheme = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
        let path = after_scheme
            .find('/')
            .map_or("", |slash| &after_scheme[slash..]);
        path.split(['?', '#'])
            .next()
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_owned()
    }

    pub fn catalog_url(&self) -> String {
        if self.catalog.is_empty() {
            format!("sqlite://{}", self.data_dir.join("folio.db").display())
        } else {
            self.catalog.clone()
        }
    }

    pub fn blobs_url(&self) -> String {
        if self.blobs.is_empty() {
            format!("file://{}", self.data_dir.join("blobs").display())
        } else {
            self.blobs.clone()
        }
    }
}

/// Secrets never leave the process through a serialised config (`folio config print`): a set
/// one shows as `<redacted>`, an empty one as empty.
fn secret<S: serde::Serializer>(value: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(if value.is_empty() { "" } else { "<redacted>" })
}

fn url_without_password<S: serde::Serializer>(url: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&crate::store::redact_url(url))
}

/// The environment variable behind a refused key: the one that set `key` (or a key below it),
/// or the one that set an unknown key of the section `key` names (serde reports those at the
/// section, naming the key in backquotes).
fn culprit<'a>(from_env: &'a [(String, String)], key: &str, problem: &str) -> Option<&'a str> {
    let section = |k: &str| {
        k.rsplit_once('.')
            .map_or(".", |(parent, _)| parent)
            .to_owned()
    };
    let last = |k: &'a str| k.rsplit('.').next().unwrap_or(k);
    from_env
        .iter()
        .rev()
        .find(|(k, _)| k == key || k.starts_with(&format!("{key}.")))
        .or_else(|| {
            from_env
                .iter()
                .rev()
                .find(|(k, _)| section(k) == key && problem.contains(&format!("`{}`", last(k))))
        })
        .map(|(_, var)| var.as_str())
}

/// A byte count: a number, or a string with a unit (`"10MB"` is 10 000 000 bytes, `"25MiB"`
/// 25 × 2^20), so that a size reads the same in the TOML file and in a variable.
fn byte_size<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<u64>,
{
    struct Size;
    impl serde::de::Visitor<'_> for Size {
        type Value = u64;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a size in bytes: a number, or a string such as \"25MiB\" or \"10MB\"")
        }
        fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<u64, E> {
            Ok(n)
        }
        fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<u64, E> {
            u64::try_from(n).map_err(|_| E::custom(format!("a size cannot be negative ({n})")))
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<u64, E> {
            let trimmed = text.trim();
            if let Ok(n) = trimmed.parse::<u64>() {
                return Ok(n);
            }
            trimmed
                .parse::<bytesize::ByteSize>()
                .map(|size| size.as_u64())
                .map_err(|_| {
                    E::custom(format!(
                        "`{text}` is not a size (a number of bytes, or e.g. \"25MiB\", \"10MB\")"
                    ))
                })
        }
    }
    let bytes = deserializer.deserialize_any(Size)?;
    T::try_from(bytes).map_err(|_| serde::de::Error::custom(format!("{bytes} is too large")))
}

/// The listen address: `IP:PORT`, or `localhost:PORT` for the loopback one (not resolved: a
/// hosts file that maps `localhost` elsewhere must not move the listener).
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    match text.rsplit_once(':') {
        Some((host, port)) if host.eq_ignore_ascii_case("localhost") => port
            .parse::<u16>()
            .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
            .map_err(|_| format!("`{text}`: the port must be a number from 0 to 65535")),
        _ => Err(format!(
            "`{text}` is not a listen address (expected IP:PORT, e.g. 127.0.0.1:8080, \
             0.0.0.0:8080, [::1]:8080, or localhost:PORT)"
        )),
    }
}

fn listen_addr<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_listen(&text).map_err(serde::de::Error::custom)
}

/// Sets `a__b` (already lower-cased) in the table. The value is read as a TOML scalar when it
/// is one (`42`, `true`), else kept as a string, so `FOLIO_LISTEN=0.0.0.0:80` needs no quotes.
fn set_path(table: &mut toml::Table, key: &str, raw: &str) -> anyhow::Result<()> {
    let mut parts: Vec<&str> = key.split("__").collect();
    let Some(last) = parts.pop() else {
        bail!("empty key");
    };
    let mut current = table;
    for part in parts {
        let entry = current
            .entry(part.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = match entry {
            toml::Value::Table(t) => t,
            _ => bail!("{part} is not a section"),
        };
    }
    let value = format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| !v.is_table() && !v.is_array())
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()));
    current.insert(last.to_owned(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The error of loading `env` (and `file`), as one line.
    fn refusal(file: Option<&Path>, pairs: &[(&str, &str)]) -> String {
        match Config::load(file, env(pairs)) {
            Ok(_) => panic!("{pairs:?} loaded"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn a_refused_key_names_its_variable_or_its_file() {
        let e = refusal(None, &[("FOLIO_PORT", "8080")]);
        assert!(
            e.starts_with("environment variable FOLIO_PORT: unknown field `port`"),
            "{e}"
        );
        let e = refusal(
            None,
            &[("FOLIO_LISTEN", "1.2.3.4:80"), ("FOLIO_LIMITS__NOPE", "1")],
        );
        assert!(
            e.starts_with("environment variable FOLIO_LIMITS__NOPE: unknown field `nope`"),
            "{e}"
        );
        let e = refusal(None, &[("FOLIO_LIMITS__MAX_FILE_SIZE", "lots")]);
        assert!(
            e.starts_with("environment variable FOLIO_LIMITS__MAX_FILE_SIZE: `lots` is not a size"),
            "{e}"
        );
        let e = refusal(None, &[("FOLIO_LISTEN", "nowhere:80")]);
        assert!(
            e.starts_with(
                "environment variable FOLIO_LISTEN: `nowhere:80` is not a listen address"
            ),
            "{e}"
        );
        let e = refusal(None, &[("FOLIO_STORAGE__FSYNC", "maybe")]);
        assert!(
            e.starts_with("environment variable FOLIO_STORAGE__FSYNC: "),
            "{e}"
        );

        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("folio.toml");
        std::fs::write(&file, "[limits]\nmax_video_size = -1\n").expect("write");
        let e = refusal(Some(&file), &[]);
        assert!(
            e.contains("folio.toml, key `limits.max_video_size`: a size cannot be negative (-1)"),
            "{e}"
        );
    }

    #[test]
    fn listening_everywhere_without_a_public_url_is_pointed_out() {
        let load = |pairs: &[(&str, &str)]| Config::load(None, env(pairs)).expect("loads");
        let everywhere = load(&[("FOLIO_LISTEN", "0.0.0.0:8080")]);
        let warning = everywhere.public_url_warning().expect("a warning");
        assert!(
            warning.contains("http://0.0.0.0:8080/default/"),
            "{warning}"
        );
        assert!(warning.contains("FOLIO_PUBLIC_URL"), "{warning}");
        assert!(load(&[("FOLIO_LISTEN", "[::]:80")])
            .public_url_warning()
            .is_some());
        let named = load(&[
            ("FOLIO_LISTEN", "0.0.0.0:8080"),
            ("FOLIO_PUBLIC_URL", "https://media.example"),
        ]);
        assert_eq!(named.public_url_warning(), None);
        assert_eq!(load(&[]).public_url_warning(), None, "loopback by default");
    }

    #[test]
    fn sizes_take_units_and_listen_takes_localhost() {
        let c = Config::load(
            None,
            env(&[
                ("FOLIO_LIMITS__MAX_FILE_SIZE", "10MB"),
                ("FOLIO_LIMITS__MAX_VIDEO_SIZE", "2 GiB"),
                ("FOLIO_STORAGE__WRITE_BUFFER_BYTES", "128KiB"),
                ("FOLIO_RESUMABLE__CHECKPOINT_BYTES", "4194304"),
                ("FOLIO_LISTEN", "localhost:9000"),
            ]),
        )
        .expect("loads");
        assert_eq!(c.limits.max_file_size, 10_000_000);
        assert_eq!(c.limits.max_video_size, 2 << 30);
        assert_eq!(c.storage.write_buffer_bytes, 128 * 1024);
        assert_eq!(c.resumable.checkpoint_bytes, 4 * MIB);
        assert_eq!(c.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(
            parse_listen("[::1]:80").map(|a| a.to_string()),
            Ok("[::1]:80".into())
        );
        assert!(parse_listen("localhost:99999").is_err());
        assert!(parse_listen("8080").is_err());
    }

    #[test]
    fn defaults_match_the_spec() {
        let c = Config::load(None, env(&[])).expect("defaults load");
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.limits.max_file_size, 25 * MIB);
        assert_eq!(c.limits.max_video_size, 300 * MIB);
        assert_eq!(c.limits.max_versions_per_file, 100);
        assert_eq!(c.public_url(), "http://127.0.0.1:8080");
        assert!(c.catalog_url().starts_with("sqlite://"));
        assert_eq!(c.limits.hard_cap(), 300 * MIB / 3 * 4 + MIB);
        assert_eq!(c.fetch.header_timeout_secs, 8);
        assert_eq!(c.fetch.max_redirects, 5);
        assert!(c.fetch.allow.is_empty());
        assert_eq!(c.server.header_read_timeout_secs, 10);
        assert_eq!(c.server.max_connections_per_ip, 128);
        assert_eq!(c.delivery_url(), "http://127.0.0.1:8080");
        assert!(c.delivery.allow_unnamed_transformations);
    }

    #[test]
    fn the_delivery_origin_is_its_own_key() {
        let c = Config::load(
            None,
            env(&[
                ("FOLIO_PUBLIC_URL", "https://api.example.com/"),
                ("FOLIO_DELIVERY__PUBLIC_URL", "https://media.example.net/"),
                ("FOLIO_DELIVERY__MAX_STEPS", "2"),
            ]),
        )
        .expect("load");
        assert_eq!(c.public_url(), "https://api.example.com");
        assert_eq!(c.delivery_url(), "https://media.example.net");
        assert_eq!(c.delivery_base_path(), "");
        assert_eq!(c.delivery.render_limits().max_steps, 2);
        let mounted = Config::load(
            None,
            env(&[("FOLIO_DELIVERY__PUBLIC_URL", "https://cdn.example/a/media/")]),
        )
        .expect("load");
        assert_eq!(mounted.delivery_base_path(), "/a/media");
        let api =
            Config::load(None, env(&[("FOLIO_PUBLIC_URL", "http://h:1/folio")])).expect("load");
        assert_eq!(api.delivery_base_path(), "/folio");
        let bad = Config::load(
            None,
            env(&[("FOLIO_DELIVERY__PUBLIC_URL", "media.example")]),
        );
        assert!(bad.is_err());
    }

    #[test]
    fn server_keys_load_from_the_environment_and_zero_timeouts_are_refused() {
        let c = Config::load(
            None,
            env(&[
                ("FOLIO_SERVER__HEADER_READ_TIMEOUT_SECS", "5"),
                ("FOLIO_SERVER__MAX_CONNECTIONS_PER_IP", "0"),
            ]),
        )
        .expect("load");
        assert_eq!(c.server.header_read_timeout(), Duration::from_secs(5));
        assert_eq!(c.server.max_connections_per_ip, 0, "0 switches the cap off");
        for key in [
            "FOLIO_SERVER__HEADER_READ_TIMEOUT_SECS",
            "FOLIO_SERVER__IDLE_TIMEOUT_SECS",
            "FOLIO_SERVER__MAX_CONNECTIONS",
        ] {
            assert!(Config::load(None, env(&[(key, "0")])).is_err(), "{key}=0");
        }
    }

    #[test]
    fn the_fetch_allow_list_reads_lists_and_comma_separated_strings() {
        let c = Config::load(
            None,
            env(&[("FOLIO_FETCH__ALLOW", "127.0.0.1/32, files.internal")]),
        )
        .expect("load");
        assert_eq!(c.fetch.allow, vec!["127.0.0.1/32", "files.internal"]);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("folio.toml");
        std::fs::write(&path, "[fetch]\nallow = [\"10.0.0.0/8\", \"fd00::/8\"]\n").expect("write");
        let c = Config::load(Some(&path), env(&[])).expect("load");
        assert_eq!(c.fetch.allow, vec!["10.0.0.0/8", "fd00::/8"]);
        let bad = Config::load(None, env(&[("FOLIO_FETCH__ALLOW", "10.0.0.0/33")]));
        assert!(bad.is_err(), "an invalid CIDR is refused at start");
    }

    #[test]
    fn environment_overrides_file_and_reads_scalars() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("folio.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\n[limits]\nmax_file_size = 10\n",
        )
        .expect("write");
        let c = Config::load(
            Some(&path),
            env(&[
                ("FOLIO_LISTEN", "0.0.0.0:7000"),
                ("FOLIO_LIMITS__MAX_VIDEO_SIZE", "20"),
                ("FOLIO_STORAGE__FSYNC", "false"),
                ("FOLIO_HELP_TEXT", "Ask Ann."),
                ("FOLIO_LOG", "debug"),
                ("FOLIO_TEST_BACKEND", "postgres-s3"),
                ("FOLIO_S3_STATE_DIR", "/tmp/s3"),
                ("OTHER", "x"),
            ]),
        )
        .expect("load");
        assert_eq!(c.listen.to_string(), "0.0.0.0:7000");
        assert_eq!(c.limits.max_file_size, 10);
        assert_eq!(c.limits.max_video_size, 20);
        assert!(!c.storage.fsync);
        assert_eq!(c.help_text, "Ask Ann.");
    }

    #[test]
    fn scale_out_keys_load_from_the_environment_and_secrets_stay_hidden() {
        let c = Config::load(
            None,
            env(&[
                ("FOLIO_CATALOG", "postgres://folio@db/folio"),
                ("FOLIO_BLOBS", "s3://media?region=eu-west-1"),
                ("FOLIO_POSTGRES__MAX_CONNECTIONS", "32"),
                ("FOLIO_S3__ACCESS_KEY_ID", "AKIA1"),
                ("FOLIO_S3__SECRET_ACCESS_KEY", "very-secret"),
            ]),
        )
        .expect("load");
        assert_eq!(c.catalog_url(), "postgres://folio@db/folio");
        assert_eq!(c.blobs_url(), "s3://media?region=eu-west-1");
        assert_eq!(c.postgres.max_connections, 32);
        assert_eq!(c.s3.secret_access_key, "very-secret");
        assert!(!format!("{c:?}").contains("very-secret"));
        let small = Config::load(None, env(&[("FOLIO_S3__PART_SIZE_BYTES", "1048576")]));
        assert!(small.is_err(), "parts below 5 MiB are refused");
    }

    #[test]
    fn the_documented_example_file_is_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../folio.example.toml");
        let example = Config::load(Some(&path), env(&[])).expect("example loads");
        let defaults = Config::default();
        // Debug output covers every key, nested sections included.
        assert_eq!(format!("{example:?}"), format!("{defaults:?}"));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = Config::load(None, env(&[("FOLIO_LIMTS__MAX_FILE_SIZE", "1")]));
        assert!(err.is_err());
        let err = Config::load(None, env(&[("FOLIO_LIMITS__MAX_FILE_SIZE", "big")]));
        assert!(err.is_err());
    }
}
