//! `folio-loadgen run …`: one measured load, one JSON line on stdout, a summary on stderr.
//! `folio-loadgen report …`: the benchmark's table and chart from the collected JSON lines.
//! `folio-loadgen receive …`: the webhook benchmark's receiver (answers 204, counts requests).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use folio_loadgen::{parse_size, report, Auth, Config};

#[derive(Parser)]
#[command(
    name = "folio-loadgen",
    version,
    about = "Upload load generator of Folio's benchmark"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Upload one payload many times at a fixed concurrency and report on it.
    Run(RunArgs),
    /// Turn collected runs (JSON lines) into a Markdown table of ratios and an SVG chart.
    Report(ReportArgs),
    /// Print a size such as 256m in bytes (for scripts).
    Size { size: String },
    /// Answer every HTTP request 204 and count them; when --expect have arrived (exit 0) or
    /// --timeout passed (exit 1), print one JSON line: received, secs (first to last counted
    /// request) and per_sec. Exit 2: it could not listen.
    Receive(ReceiveArgs),
}

#[derive(clap::Args)]
struct ReceiveArgs {
    /// Where to listen, e.g. 127.0.0.1:18650 (port 0: any free port). The address is printed
    /// on stderr once it listens.
    #[arg(long)]
    listen: std::net::SocketAddr,
    /// Stop when this many requests have arrived.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    expect: u64,
    /// Stop after this many seconds even if fewer have arrived.
    #[arg(long, default_value_t = 600.0)]
    timeout: f64,
    /// Listen on a non-loopback address too.
    #[arg(long)]
    allow_remote: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum AuthKind {
    /// A fresh V2 upload token (HS256 JWT) per request, pinning every form field.
    Token,
    /// `Authorization: Basic base64(PRIVATE_KEY:)`.
    Basic,
    None,
}

#[derive(Clone, Copy, ValueEnum)]
enum MethodKind {
    /// A multipart form: fileName, useUniqueFileName=false, --field…, token, file.
    Post,
    /// The raw bytes (e.g. WebDAV); `{name}` in the URL becomes the file name.
    Put,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Target URL, e.g. http://127.0.0.1:8080/api/v2/files/upload; `{name}` is replaced by
    /// each request's file name.
    #[arg(long)]
    url: String,
    #[arg(long, value_enum, default_value = "post")]
    method: MethodKind,
    #[arg(long, value_enum, default_value = "none")]
    auth: AuthKind,
    #[arg(long, env = "FOLIO_PUBLIC_KEY")]
    public_key: Option<String>,
    #[arg(long, env = "FOLIO_PRIVATE_KEY", hide_env_values = true)]
    private_key: Option<String>,
    /// Bytes per file: 16k, 2m, 256m, 1g or a number.
    #[arg(long, default_value = "16k")]
    size: String,
    /// Uploads in flight at once (one connection each).
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Seconds after which no new request starts (default 10 unless --requests is given).
    #[arg(long)]
    duration: Option<f64>,
    /// Requests to send at most.
    #[arg(long)]
    requests: Option<u64>,
    /// Seconds one request may take.
    #[arg(long, default_value_t = 300.0)]
    timeout: f64,
    /// An extra form field NAME=VALUE (repeatable), signed into the token too.
    #[arg(long = "field", value_name = "NAME=VALUE")]
    fields: Vec<String>,
    /// Send the file part before the text fields.
    #[arg(long)]
    file_first: bool,
    /// Allow a target that is not a loopback address.
    #[arg(long)]
    allow_remote: bool,
    /// PID of the server: report the CPU time and peak RSS of its process tree.
    #[arg(long)]
    server_pid: Option<u32>,
    /// A label KEY=VALUE copied into the JSON report (repeatable).
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    tags: Vec<String>,
    /// No summary on stderr.
    #[arg(long)]
    quiet: bool,
    /// Resumable uploads: the URL is the tus creation endpoint and each file goes in PATCHes
    /// of this size (e.g. 8m).
    #[arg(long, value_name = "SIZE")]
    tus_chunk: Option<String>,
}

#[derive(clap::Args)]
struct ReportArgs {
    /// The runs: JSON lines as `run` prints them (tags server, label, measure).
    #[arg(long)]
    input: PathBuf,
    /// Where to write the Markdown table.
    #[arg(long)]
    markdown: PathBuf,
    /// Where to write the SVG chart.
    #[arg(long)]
    svg: PathBuf,
    /// Title of the chart.
    #[arg(long, default_value = "Folio upload benchmark")]
    title: String,
}

fn pair(text: &str, flag: &str) -> anyhow::Result<(String, String)> {
    let (k, v) = text
        .split_once('=')
        .with_context(|| format!("{flag} {text}: expected NAME=VALUE"))?;
    Ok((k.to_owned(), v.to_owned()))
}

fn seconds(s: f64, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(s).with_context(|| format!("{flag} {s}: not a duration"))
}

fn config(args: &RunArgs) -> anyhow::Result<Config> {
    let mut c = Config::new(args.url.clone());
    c.method = match args.method {
        MethodKind::Post => http::Method::POST,
        MethodKind::Put => http::Method::PUT,
    };
    let private = || {
        args.private_key
            .clone()
            .context("this --auth needs --private-key (or FOLIO_PRIVATE_KEY)")
    };
    c.auth = match args.auth {
        AuthKind::None => Auth::None,
        AuthKind::Basic => Auth::Basic {
            private_key: private()?,
        },
        AuthKind::Token => Auth::Token {
            public_key: args
                .public_key
                .clone()
                .context("--auth token needs --public-key (or FOLIO_PUBLIC_KEY)")?,
            private_key: private()?,
        },
    };
    c.size = parse_size(&args.size)?;
    c.concurrency = args.concurrency;
    c.requests = args.requests;
    c.duration = match (args.duration, args.requests) {
        (Some(d), _) => Some(seconds(d, "--duration")?),
        (None, Some(_)) => None,
        (None, None) => Some(Duration::from_secs(10)),
    };
    c.timeout = seconds(args.timeout, "--timeout")?;
    c.fields = args
        .fields
        .iter()
        .map(|f| pair(f, "--field"))
        .collect::<anyhow::Result<_>>()?;
    c.file_first = args.file_first;
    c.allow_remote = args.allow_remote;
    c.server_pid = args.server_pid;
    c.tus_chunk = args.tus_chunk.as_deref().map(parse_size).transpose()?;
    c.tags = args
        .tags
        .iter()
        .map(|t| pair(t, "--tag"))
        .collect::<anyhow::Result<_>>()?;
    Ok(c)
}

fn summary(r: &folio_loadgen::Report) -> String {
    let mut s = format!(
        "{} {} x{} ({} B, {} auth): ok {} non-2xx {} errors {} in {:.2} s: {:.1} req/s, {:.1} MB/s; \
         latency p50 {:.2} p90 {:.2} p99 {:.2} max {:.2} ms",
        r.method,
        r.tags.values().cloned().collect::<Vec<_>>().join("/"),
        r.concurrency,
        r.size_bytes,
        r.auth,
        r.ok,
        r.non_2xx,
        r.errors,
        r.elapsed_s,
        r.req_per_s,
        r.mb_per_s,
        r.lat_ms.p50,
        r.lat_ms.p90,
        r.lat_ms.p99,
        r.lat_ms.max,
    );
    if let Some(cpu) = r.server_cpu_ms {
        s.push_str(&format!("; server CPU {cpu:.0} ms"));
    }
    if let Some(per) = r.server_cpu_ms_per_upload {
        s.push_str(&format!(" ({per:.3} ms/upload)"));
    }
    if let Some(kib) = r.server_peak_rss_kib {
        s.push_str(&format!(", peak RSS {:.1} MiB", kib as f64 / 1024.0));
    }
    if let Some(e) = &r.first_error {
        s.push_str(&format!("\n  first error: {e}"));
    }
    if let Some(e) = &r.first_non_2xx {
        s.push_str(&format!("\n  first non-2xx: {e}"));
    }
    s
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    let config = config(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(folio_loadgen::run(&config))?;
    println!("{}", serde_json::to_string(&report)?);
    if !args.quiet {
        eprintln!("{}", summary(&report));
    }
    Ok(())
}

fn make_report(args: ReportArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.input)
        .with_context(|| format!("reading {}", args.input.display()))?;
    let runs =
        report::parse_lines(&text).with_context(|| format!("parsing {}", args.input.display()))?;
    let servers = report::summarize(&runs);
    let targets = report::targets(&servers);
    let plan = report::plan(&runs);
    std::fs::write(&args.markdown, report::markdown(&servers, &targets, &plan))
        .with_context(|| format!("writing {}", args.markdown.display()))?;
    std::fs::write(
        &args.svg,
        report::svg(&servers, &targets, &plan, &args.title),
    )
    .with_context(|| format!("writing {}", args.svg.display()))?;
    Ok(())
}

/// Exits 0 when the expected count arrived, 1 when the timeout came first (2 on an error).
fn receive(args: ReceiveArgs) -> anyhow::Result<ExitCode> {
    if !args.allow_remote && !args.listen.ip().is_loopback() {
        anyhow::bail!(
            "--listen {}: not a loopback address (pass --allow-remote)",
            args.listen
        );
    }
    let timeout = seconds(args.timeout, "--timeout")?;
    // One thread: it takes far more requests than a sender on this machine makes, and leaves
    // the other cores to the server under test.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let received = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        eprintln!("listening on {}", listener.local_addr()?);
        anyhow::Ok(folio_loadgen::receive::receive(listener, args.expect, timeout).await)
    })?;
    println!("{}", serde_json::to_string(&received)?);
    // Its own cost, to show it was not the bottleneck (from /proc; the process is about to end).
    let cpu = folio_loadgen::procfs::own_cpu_ms()
        .map(|ms| format!("; own CPU {ms:.0} ms"))
        .unwrap_or_default();
    eprintln!(
        "received {} requests on {} connections in {:.3} s: {:.1}/s{cpu}",
        received.received, received.connections, received.secs, received.per_sec
    );
    Ok(if received.reached {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Run(args) => run(args).map(|()| ExitCode::SUCCESS),
        Command::Report(args) => make_report(args).map(|()| ExitCode::SUCCESS),
        Command::Size { size } => parse_size(&size).map(|bytes| {
            println!("{bytes}");
            ExitCode::SUCCESS
        }),
        Command::Receive(args) => {
            // 1 means the timeout came first: an error that prevents receiving is another exit.
            return receive(args).unwrap_or_else(|e| {
                eprintln!("error: {e:#}");
                ExitCode::from(2)
            });
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
