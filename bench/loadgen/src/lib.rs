//! Folio's upload load generator: many uploads of one size at a fixed concurrency, measured.
//!
//! [`run`] sends `multipart/form-data` POSTs in the shape of ImageKit's Upload API V2
//! (`fileName`, `useUniqueFileName=false`, extra fields, the `file` part) or raw PUTs (a WebDAV
//! server), authenticated by a fresh single-use upload token per request, by HTTP Basic with the
//! private key, or not at all, and returns a [`Report`]: successes, failures, rates and latency
//! percentiles, and the CPU time and peak memory of the server process when its PID is given.
//!
//! Each of `concurrency` workers holds one HTTP/1.1 keep-alive connection and sends its
//! requests one after another, so the concurrency is also the number of connections. The file
//! payload is generated once and shared by every request (see [`body`]).
//!
//! [`receive`] is the other end of the webhook benchmark: a server that answers every request
//! 204 and counts them.
//!
//! [`report`] turns the JSON lines that `bench/run.sh` collects into the benchmark's Markdown
//! table and SVG chart.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use bytes::Bytes;
use http::{header, Method, Request, Uri};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};

pub mod body;
pub mod procfs;
pub mod receive;
pub mod report;

use body::{ChunkBody, Multipart, Payload};

/// How requests authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    /// A fresh V2 upload token per request, pinning every form field.
    Token {
        public_key: String,
        private_key: String,
    },
    /// `Authorization: Basic base64(PRIVATE_KEY:)`.
    Basic {
        private_key: String,
    },
}

/// What a run does. Build one with [`Config::new`] and adjust the fields.
#[derive(Debug, Clone)]
pub struct Config {
    /// Target URL; `{name}` is replaced by each request's file name (for PUT).
    pub url: String,
    /// POST a multipart form, or PUT the raw bytes.
    pub method: Method,
    pub auth: Auth,
    /// Bytes of each uploaded file.
    pub size: usize,
    /// Workers (= connections) sending at once.
    pub concurrency: usize,
    /// No new request starts after this long. At least one of `duration` and `requests` is set.
    pub duration: Option<Duration>,
    /// Requests sent at most.
    pub requests: Option<u64>,
    /// Bound on one request, from sending to the last byte of the response.
    pub timeout: Duration,
    /// Extra form fields, sent (and signed) after `fileName` and `useUniqueFileName`.
    pub fields: Vec<(String, String)>,
    /// The file part before the text fields (the official browser SDK's order).
    pub file_first: bool,
    /// Also accept targets that are not loopback addresses.
    pub allow_remote: bool,
    /// Server process whose CPU time and peak memory (its process tree) are reported.
    pub server_pid: Option<u32>,
    /// Free-form labels copied into the report (e.g. server, measure, rep).
    pub tags: BTreeMap<String, String>,
    /// Each upload is a resumable (tus) upload to `url` in PATCHes of this many bytes, rather
    /// than one request; its latency is the whole upload's.
    pub tus_chunk: Option<usize>,
}

impl Config {
    /// A 10-second run of 16 KiB POSTs, one at a time, without authentication.
    pub fn new(url: impl Into<String>) -> Config {
        Config {
            url: url.into(),
            method: Method::POST,
            auth: Auth::None,
            size: 16 * 1024,
            concurrency: 1,
            duration: Some(Duration::from_secs(10)),
            requests: None,
            timeout: Duration::from_secs(300),
            fields: Vec::new(),
            file_first: false,
            allow_remote: false,
            server_pid: None,
            tags: BTreeMap::new(),
            tus_chunk: None,
        }
    }
}

/// The result of a run: what `folio-loadgen run` prints as one JSON line.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Report {
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub method: String,
    #[serde(default)]
    pub auth: String,
    #[serde(default)]
    pub size_bytes: u64,
    #[serde(default)]
    pub concurrency: u64,
    /// Responses with a 2xx status.
    #[serde(default)]
    pub ok: u64,
    /// Responses with another status.
    #[serde(default)]
    pub non_2xx: u64,
    /// Requests without a response: connection errors, timeouts.
    #[serde(default)]
    pub errors: u64,
    #[serde(default)]
    pub elapsed_s: f64,
    /// Successful uploads per second.
    #[serde(default)]
    pub req_per_s: f64,
    /// Payload bytes of the successful uploads per second, in MB (10^6 bytes).
    #[serde(default)]
    pub mb_per_s: f64,
    /// Latency percentiles of the successful requests, in ms.
    #[serde(default)]
    pub lat_ms: Latency,
    /// Count per HTTP status.
    #[serde(default)]
    pub status: BTreeMap<String, u64>,
    #[serde(default)]
    pub first_error: Option<String>,
    /// Status and the start of the body of the first non-2xx response.
    #[serde(default)]
    pub first_non_2xx: Option<String>,
    /// CPU time of the server's process tree during the run, ms.
    #[serde(default)]
    pub server_cpu_ms: Option<f64>,
    /// `server_cpu_ms / ok`.
    #[serde(default)]
    pub server_cpu_ms_per_upload: Option<f64>,
    /// Peak resident set of the server's process tree during the run (sum of VmHWM), KiB.
    #[serde(default)]
    pub server_peak_rss_kib: Option<u64>,
    /// The load generator's own CPU time during the run, ms.
    #[serde(default)]
    pub loadgen_cpu_ms: Option<f64>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    /// Nearest-rank percentiles of `micros` (sorted in place).
    fn of(micros: &mut [u32]) -> Latency {
        micros.sort_unstable();
        let at = |q: f64| -> f64 {
            if micros.is_empty() {
                return 0.0;
            }
            let rank = ((q * micros.len() as f64).ceil() as usize).clamp(1, micros.len());
            f64::from(micros[rank - 1]) / 1000.0
        };
        Latency {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

/// `16k`, `2m`, `256M`, `1g`, `1GiB` or plain bytes (binary multiples).
pub fn parse_size(text: &str) -> anyhow::Result<usize> {
    let t = text.trim().to_ascii_lowercase();
    let t = t
        .strip_suffix("ib")
        .or_else(|| t.strip_suffix('b'))
        .unwrap_or(&t);
    let (digits, shift) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 10),
        Some('m') => (&t[..t.len() - 1], 20),
        Some('g') => (&t[..t.len() - 1], 30),
        _ => (t, 0),
    };
    let n: usize = digits
        .trim()
        .parse()
        .with_context(|| format!("size {text:?}: expected e.g. 16k, 2m, 256m, 1g or bytes"))?;
    n.checked_mul(1 << shift)
        .with_context(|| format!("size {text:?} is too large"))
}

/// Where requests go: the connection address and what goes into the request line.
struct Target {
    authority: String,
    /// `path?query` with `{name}` still in it.
    path: String,
}

fn target(config: &Config) -> anyhow::Result<Target> {
    // `{name}` is not valid in a URI: parse with a stand-in and put it back.
    let uri: Uri = config
        .url
        .replace("{name}", "__name__")
        .parse()
        .with_context(|| format!("--url {}", config.url))?;
    if uri.scheme_str() != Some("http") {
        bail!("--url {}: only http:// is supported", config.url);
    }
    let host = uri.host().context("--url has no host")?;
    if !config.allow_remote && !is_loopback(host) {
        bail!(
            "--url {}: {host} is not a loopback address (pass --allow-remote to load another machine)",
            config.url
        );
    }
    let authority = uri.authority().context("--url has no host")?;
    let authority = if authority.port().is_some() {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let path = uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .replace("__name__", "{name}");
    Ok(Target { authority, path })
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// What every worker shares.
struct Shared {
    config: Config,
    target: Target,
    payload: Payload,
    form: Multipart,
    /// Requests started so far (also numbers the file names).
    started: AtomicU64,
    deadline: Option<Instant>,
    run_id: String,
    basic: Option<String>,
}

#[derive(Default)]
struct Tally {
    ok: u64,
    non_2xx: u64,
    errors: u64,
    status: BTreeMap<u16, u64>,
    latencies_us: Vec<u32>,
    first_error: Option<(Instant, String)>,
    first_non_2xx: Option<(Instant, String)>,
}

impl Tally {
    /// Counts an answer to a request (or a whole resumable upload) sent at `sent`.
    fn answer(&mut self, status: http::StatusCode, body: &Bytes, sent: Instant) {
        let micros = u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX);
        *self.status.entry(status.as_u16()).or_default() += 1;
        if status.is_success() {
            self.ok += 1;
            self.latencies_us.push(micros);
        } else {
            self.non_2xx += 1;
            if self.first_non_2xx.is_none() {
                self.first_non_2xx = Some((Instant::now(), describe(status, body)));
            }
        }
    }

    fn error(&mut self, message: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some((Instant::now(), message));
        }
    }

    fn merge(&mut self, other: Tally) {
        self.ok += other.ok;
        self.non_2xx += other.non_2xx;
        self.errors += other.errors;
        for (s, n) in other.status {
            *self.status.entry(s).or_default() += n;
        }
        self.latencies_us.extend(other.latencies_us);
        let earliest = |a: Option<(Instant, String)>, b: Option<(Instant, String)>| match (a, b) {
            (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
            (a, b) => a.or(b),
        };
        self.first_error = earliest(self.first_error.take(), other.first_error);
        self.first_non_2xx = earliest(self.first_non_2xx.take(), other.first_non_2xx);
    }
}

type Sender = hyper::client::conn::http1::SendRequest<ChunkBody>;

/// Runs the load described by `config` and reports on it.
///
/// # Errors
///
/// A configuration that cannot run (bad URL, a remote target without `allow_remote`, neither a
/// duration nor a request count, zero concurrency). Failed requests are counted in the report,
/// not returned as errors.
pub async fn run(config: &Config) -> anyhow::Result<Report> {
    if config.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    if config.duration.is_none() && config.requests.is_none() {
        bail!("give --duration or --requests (or both): a run must be bounded");
    }
    let target = target(config)?;
    if let Auth::Token {
        public_key,
        private_key,
    } = &config.auth
    {
        if public_key.is_empty() || private_key.is_empty() {
            bail!("--auth token needs --public-key and --private-key");
        }
    }
    let basic = match &config.auth {
        Auth::Basic { private_key } => {
            use base64::Engine;
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{private_key}:"));
            Some(format!("Basic {encoded}"))
        }
        _ => None,
    };
    let run_id = format!("{:08x}", rand::random::<u32>());
    let payload = Payload::random(config.size);
    let form = Multipart::new(format!(
        "folio-loadgen-{run_id}-{:016x}",
        rand::random::<u64>()
    ));

    let server_before = config.server_pid.and_then(|pid| {
        procfs::reset_hwm(pid);
        procfs::cpu_ms(pid)
    });
    let own_before = procfs::own_cpu_ms();
    // The clock starts after the payload was generated.
    let start = Instant::now();
    let shared = Arc::new(Shared {
        config: config.clone(),
        target,
        payload,
        form,
        started: AtomicU64::new(0),
        deadline: config.duration.map(|d| start + d),
        run_id,
        basic,
    });
    let workers: Vec<_> = (0..config.concurrency)
        .map(|_| tokio::spawn(worker(shared.clone())))
        .collect();
    let mut tally = Tally::default();
    for w in workers {
        match w.await {
            Ok(t) => tally.merge(t),
            Err(e) => tally.error(format!("worker failed: {e}")),
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let server_cpu_ms = config
        .server_pid
        .and_then(procfs::cpu_ms)
        .zip(server_before)
        .map(|(after, before)| after - before);
    let server_peak_rss_kib = config.server_pid.and_then(procfs::vmhwm_kib);
    let loadgen_cpu_ms = procfs::own_cpu_ms()
        .zip(own_before)
        .map(|(after, before)| after - before);

    let ok = tally.ok;
    let size = shared.payload.len();
    let per_s = |x: f64| if elapsed > 0.0 { x / elapsed } else { 0.0 };
    Ok(Report {
        tags: config.tags.clone(),
        method: config.method.to_string(),
        auth: match config.auth {
            Auth::None => "none",
            Auth::Token { .. } => "token",
            Auth::Basic { .. } => "basic",
        }
        .to_owned(),
        size_bytes: size,
        concurrency: config.concurrency as u64,
        ok,
        non_2xx: tally.non_2xx,
        errors: tally.errors,
        elapsed_s: elapsed,
        req_per_s: per_s(ok as f64),
        mb_per_s: per_s(ok as f64 * size as f64 / 1e6),
        lat_ms: Latency::of(&mut tally.latencies_us),
        status: tally
            .status
            .iter()
            .map(|(s, n)| (s.to_string(), *n))
            .collect(),
        first_error: tally.first_error.map(|e| e.1),
        first_non_2xx: tally.first_non_2xx.map(|e| e.1),
        server_cpu_ms,
        server_cpu_ms_per_upload: server_cpu_ms.filter(|_| ok > 0).map(|c| c / ok as f64),
        server_peak_rss_kib,
        loadgen_cpu_ms,
    })
}

async fn connect(authority: &str) -> anyhow::Result<Sender> {
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .with_context(|| format!("connect {authority}"))?;
    stream.set_nodelay(true)?;
    let io = hyper_util::rt::TokioIo::new(stream);
    let (sender, connection) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(async move {
        // Ends when the server or the worker closes the connection; a broken connection shows
        // up as an error of the request in flight.
        let _ = connection.await;
    });
    Ok(sender)
}

async fn worker(shared: Arc<Shared>) -> Tally {
    let mut tally = Tally::default();
    let mut sender: Option<Sender> = None;
    let config = &shared.config;
    loop {
        if shared.deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let n = shared.started.fetch_add(1, Ordering::Relaxed);
        if config.requests.is_some_and(|max| n >= max) {
            break;
        }
        let mut conn = match sender.take().filter(|s| !s.is_closed()) {
            Some(s) => s,
            None => match tokio::time::timeout(config.timeout, connect(&shared.target.authority))
                .await
            {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tally.error(format!("{e:#}"));
                    // Do not spin on a server that is not there.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                Err(_) => {
                    tally.error("connect: timed out".to_owned());
                    continue;
                }
            },
        };
        if let Some(chunk) = config.tus_chunk {
            let sent = Instant::now();
            match tokio::time::timeout(config.timeout, tus_upload(&mut conn, &shared, n, chunk))
                .await
            {
                Ok(Ok((status, body))) => {
                    tally.answer(status, &body, sent);
                    sender = Some(conn);
                }
                Ok(Err(e)) => tally.error(format!("resumable upload: {e:#}")),
                Err(_) => tally.error(format!("request: timed out after {:?}", config.timeout)),
            }
            continue;
        }
        let request = match build_request(&shared, n) {
            Ok(r) => r,
            Err(e) => {
                // A configuration problem: every request would fail the same way.
                tally.error(format!("{e:#}"));
                break;
            }
        };
        let sent = Instant::now();
        let exchange = async {
            conn.ready().await?;
            let response = conn.send_request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, hyper::Error>((status, body))
        };
        match tokio::time::timeout(config.timeout, exchange).await {
            Ok(Ok((status, body))) => {
                tally.answer(status, &body, sent);
                sender = Some(conn);
            }
            Ok(Err(e)) => tally.error(format!("request: {e}")),
            Err(_) => tally.error(format!("request: timed out after {:?}", config.timeout)),
        }
    }
    tally
}

/// One resumable upload: the creation (a fresh token as Bearer, or Basic with the file name as
/// metadata), then PATCHes of `chunk` bytes one after the other on the same connection. The
/// answer that ended it: the last 204, or the first other one.
async fn tus_upload(
    conn: &mut Sender,
    shared: &Shared,
    n: u64,
    chunk: usize,
) -> anyhow::Result<(http::StatusCode, Bytes)> {
    use base64::Engine;
    let config = &shared.config;
    let file_name = format!("f-{}-{n}.bin", shared.run_id);
    let mut create = Request::builder()
        .method(Method::POST)
        .uri(&shared.target.path)
        .header(header::HOST, &shared.target.authority)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", shared.payload.len())
        .header(header::CONTENT_LENGTH, 0);
    match &config.auth {
        Auth::Token {
            public_key,
            private_key,
        } => {
            let mut mint = folio_token::UploadToken::new(public_key, private_key)
                .param("fileName", &file_name)
                .param("useUniqueFileName", "false");
            for (k, v) in &config.fields {
                mint = mint.param(k, v);
            }
            let token = mint.sign().context("minting the upload token")?;
            create = create.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        Auth::Basic { .. } | Auth::None => {
            let b64 = |v: &str| base64::engine::general_purpose::STANDARD.encode(v);
            let mut metadata = vec![
                format!("fileName {}", b64(&file_name)),
                format!("useUniqueFileName {}", b64("false")),
            ];
            metadata.extend(config.fields.iter().map(|(k, v)| format!("{k} {}", b64(v))));
            create = create.header("upload-metadata", metadata.join(","));
            if let Some(basic) = &shared.basic {
                create = create.header(header::AUTHORIZATION, basic);
            }
        }
    }
    let empty = || ChunkBody::raw(Payload::from_bytes(Bytes::new()));
    conn.ready().await?;
    let response = conn.send_request(create.body(empty())?).await?;
    let status = response.status();
    let location = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.into_body().collect().await?.to_bytes();
    if status != http::StatusCode::CREATED {
        return Ok((status, body));
    }
    let location = location.context("a creation without Location")?;
    // The path of the upload URL (absolute when the server has a public URL).
    let path = match location.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]).to_owned(),
        None => location,
    };
    let length = shared.payload.len();
    let mut last = (status, body);
    for offset in (0..length).step_by(chunk.max(1)) {
        let end = (offset + chunk as u64).min(length);
        let patch = Request::builder()
            .method(Method::PATCH)
            .uri(&path)
            .header(header::HOST, &shared.target.authority)
            .header("tus-resumable", "1.0.0")
            .header(header::CONTENT_TYPE, "application/offset+octet-stream")
            .header("upload-offset", offset)
            .header(header::CONTENT_LENGTH, end - offset)
            .body(ChunkBody::raw(shared.payload.slice(offset..end)))?;
        conn.ready().await?;
        let response = conn.send_request(patch).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        if status != http::StatusCode::NO_CONTENT {
            return Ok((status, body));
        }
        last = (status, body);
    }
    Ok(last)
}

fn describe(status: http::StatusCode, body: &Bytes) -> String {
    let text = String::from_utf8_lossy(body);
    let mut end = text.len().min(300);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} {}", status.as_u16(), text[..end].trim())
}

fn build_request(shared: &Shared, n: u64) -> anyhow::Result<Request<ChunkBody>> {
    let config = &shared.config;
    let file_name = format!("f-{}-{n}.bin", shared.run_id);
    let path = shared.target.path.replace("{name}", &file_name);
    let builder = Request::builder()
        .method(config.method.clone())
        .uri(path)
        .header(header::HOST, &shared.target.authority);
    let builder = match &shared.basic {
        Some(basic) => builder.header(header::AUTHORIZATION, basic),
        None => builder,
    };
    let body = if config.method == Method::PUT {
        ChunkBody::raw(shared.payload.clone())
    } else {
        let mut fields: Vec<(&str, &str)> = Vec::with_capacity(config.fields.len() + 3);
        fields.push(("fileName", &file_name));
        fields.push(("useUniqueFileName", "false"));
        fields.extend(config.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let token;
        if let Auth::Token {
            public_key,
            private_key,
        } = &config.auth
        {
            let mut mint = folio_token::UploadToken::new(public_key, private_key);
            for (k, v) in &fields {
                mint = mint.param(*k, *v);
            }
            token = mint.sign().context("minting the upload token")?;
            fields.push(("token", &token));
        }
        let body = shared
            .form
            .body(&fields, &file_name, &shared.payload, config.file_first);
        return Ok(builder
            .header(header::CONTENT_TYPE, shared.form.content_type())
            .header(header::CONTENT_LENGTH, body_len(&body))
            .body(body)?);
    };
    Ok(builder
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, body_len(&body))
        .body(body)?)
}

fn body_len(body: &ChunkBody) -> u64 {
    http_body::Body::size_hint(body).exact().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16k").ok(), Some(16 * 1024));
        assert_eq!(parse_size("2m").ok(), Some(2 << 20));
        assert_eq!(parse_size("256M").ok(), Some(256 << 20));
        assert_eq!(parse_size("1GiB").ok(), Some(1 << 30));
        assert_eq!(parse_size("1000").ok(), Some(1000));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut us: Vec<u32> = (1..=100).rev().map(|i| i * 1000).collect();
        let l = Latency::of(&mut us);
        assert_eq!((l.p50, l.p90, l.p99, l.max), (50.0, 90.0, 99.0, 100.0));
        assert_eq!(Latency::of(&mut []), Latency::default());
    }

    #[test]
    fn only_loopback_targets_unless_allowed() {
        let mut c = Config::new("http://127.0.0.1:8080/api/v2/files/upload");
        let t = target(&c).expect("loopback");
        assert_eq!(
            (t.authority.as_str(), t.path.as_str()),
            ("127.0.0.1:8080", "/api/v2/files/upload")
        );
        c.url = "http://localhost/dav/{name}?x=1".to_owned();
        let t = target(&c).expect("localhost");
        assert_eq!(
            (t.authority.as_str(), t.path.as_str()),
            ("localhost:80", "/dav/{name}?x=1")
        );
        c.url = "http://[::1]:9/x".to_owned();
        assert!(target(&c).is_ok());
        c.url = "http://192.0.2.1:8080/x".to_owned();
        assert!(target(&c).is_err());
        c.allow_remote = true;
        assert!(target(&c).is_ok());
        c.url = "https://127.0.0.1/x".to_owned();
        assert!(target(&c).is_err());
    }
}
