//! The `folio` command line: `serve`, `migrate`, `keys`, `token`, `upload`, `files`,
//! `webhooks`, `config`, `health`. Only `serve` creates a library; the other commands open an
//! existing one and say which.

mod upload;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::config::Config;

#[derive(Parser)]
#[command(
    name = "folio",
    version,
    about = "Self-hosted media library with an ImageKit-compatible upload API",
    after_help = CONFIG_HELP
)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// How settings are found, under every command's `--help`.
const CONFIG_HELP: &str = "\
Configuration: built-in defaults, then the TOML file (--config, FOLIO_CONFIG; every key is in
folio.example.toml), then FOLIO_* variables (key a.b_c is FOLIO_A__B_C, e.g.
FOLIO_LIMITS__MAX_FILE_SIZE=25MiB), then flags. `folio config print` shows the result.
Logging: FOLIO_LOG sets the filter (default folio=info), FOLIO_LOG_FORMAT=json for JSON lines.";

#[derive(Args)]
struct GlobalArgs {
    /// Configuration file (TOML); see folio.example.toml.
    #[arg(long, global = true, env = "FOLIO_CONFIG")]
    config: Option<PathBuf>,
    /// Folder for the embedded catalog and blobs (key `data_dir`) [default: ./data].
    #[arg(long, global = true, env = "FOLIO_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Catalog URL, `sqlite://PATH` or `postgres://…` (key `catalog`) [default:
    /// sqlite://<data_dir>/folio.db].
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "FOLIO_CATALOG",
        hide_env_values = true
    )]
    catalog: Option<String>,
    /// Blob store URL, `file://PATH` or `s3://BUCKET[/PREFIX]?…` (key `blobs`) [default:
    /// file://<data_dir>/blobs].
    #[arg(long, global = true, value_name = "URL", env = "FOLIO_BLOBS")]
    blobs: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server.
    #[command(after_help = CONFIG_HELP)]
    Serve {
        /// Address to listen on, IP:PORT or localhost:PORT (key `listen`) [default:
        /// 127.0.0.1:8080].
        #[arg(long, value_parser = crate::config::parse_listen, env = "FOLIO_LISTEN")]
        listen: Option<std::net::SocketAddr>,
        /// Also serve a browser upload page at /demo/ with its own token endpoint at
        /// /demo/auth (signing with the first active key, guarded by a bearer token drawn at
        /// start). Loopback addresses only; for trying client-side upload on this machine.
        #[arg(long)]
        demo: bool,
        /// Maintenance mode: serve files and reads, refuse every change with 503 (key
        /// `read_only`), and run no background work that writes.
        #[arg(long)]
        read_only: bool,
    },
    /// Bring the catalog's schema up to date, then exit (run it before starting a new
    /// version when `postgres.migrate_on_start` is off).
    Migrate {
        /// Change nothing: fail if the schema is behind this version.
        #[arg(long)]
        check: bool,
    },
    /// Manage accounts: each has its own URL path segment, keys, files and quotas.
    Accounts {
        #[command(subcommand)]
        action: AccountsAction,
    },
    /// Manage API key pairs.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Mint a v2 upload token (JWT) for the given parameters.
    Token(TokenArgs),
    /// Upload a file to a running server over HTTP (its upload API, with a single-use token
    /// minted from the key pair) and print the v2 upload response.
    Upload(UploadArgs),
    /// Work with the files of an account.
    Files {
        #[command(subcommand)]
        action: FilesAction,
    },
    /// Account webhook events: where they go, and what became of them.
    Webhooks {
        #[command(subcommand)]
        action: WebhooksAction,
    },
    /// The configuration in effect.
    #[command(after_help = CONFIG_HELP)]
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Check that the catalog and the blob store answer; exits non-zero when one does not.
    Health,
    /// Copy the embedded library (SQLite catalog and local blobs) into DIR, consistent while
    /// the server runs: every upload acknowledged before it began is in the copy.
    Backup {
        /// An absent or empty folder.
        dir: PathBuf,
    },
    /// Put a backup made by `folio backup` into an empty data folder.
    Restore { dir: PathBuf },
    /// Copy the whole library to another catalog and/or blob store (SQLite ↔ PostgreSQL,
    /// local files ↔ S3), checking every row and blob; run it again to resume. Serve the
    /// library with `--read-only` meanwhile.
    MigrateStore {
        /// The catalog to copy into (`sqlite://PATH`, `postgres://…`): an empty database or
        /// schema, or one an interrupted run left. Default: the library keeps its catalog.
        #[arg(long, value_name = "URL")]
        to_catalog: Option<String>,
        /// The blob store to copy into (`file://PATH`, `s3://BUCKET[/PREFIX]?…`; S3
        /// credentials from `s3.*`). Default: the library keeps its blobs.
        #[arg(long, value_name = "URL")]
        to_blobs: Option<String>,
        /// Say what would be copied; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Blobs copied at once.
        #[arg(long, default_value_t = 8, value_name = "N")]
        jobs: usize,
    },
    /// The media console at /console/.
    Console {
        #[command(subcommand)]
        action: ConsoleAction,
    },
    /// Check that every version's blob exists at its size, find blobs no row refers to and
    /// files whose versions are out of sequence; exits non-zero while a problem remains. Runs
    /// online.
    Fsck {
        /// Delete orphan blobs (older than `storage.orphan_grace_secs`), tag files with a
        /// missing or damaged blob `folio-broken` and raise version counters left below a
        /// version's number (no row is deleted).
        #[arg(long)]
        repair: bool,
        /// The report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Print the effective configuration as TOML (defaults, file, variables and flags
    /// applied), secrets redacted.
    Print,
}

#[derive(Subcommand)]
enum WebhooksAction {
    /// Send an account's events to URL; prints the endpoint's signing secret, once.
    Add(WebhookAddArgs),
    /// The endpoints of every account.
    List,
    /// Stop sending to an endpoint (deliveries still pending for it are dropped).
    Rm {
        /// The endpoint id (`folio webhooks list`).
        id: String,
    },
    /// Give an endpoint a new secret, printed once; deliveries carry a signature under the old
    /// one too for `webhooks.rotation_grace_secs`, so receivers can switch without a gap.
    RotateSecret {
        /// The endpoint id (`folio webhooks list`).
        id: String,
    },
    /// The delivery log, newest first: events, callbacks and extension jobs, their state,
    /// attempts, last answer and next retry.
    Deliveries {
        /// Only those given up (after 24 h of retries, a refused URL or a 410).
        #[arg(long)]
        failed: bool,
        /// How many rows at most.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

#[derive(Args)]
struct WebhookAddArgs {
    /// An http(s) URL with a public address (or one `fetch.allow` lets through).
    url: String,
    /// Event types, comma-separated (e.g. file.created,file.deleted); without it, every event.
    #[arg(long, value_delimiter = ',', value_name = "TYPES")]
    events: Vec<String>,
    /// The account, by its URL id.
    #[arg(long, value_name = "URL_ID", default_value = "default")]
    account: String,
}

#[derive(Subcommand)]
enum ConsoleAction {
    /// Print a link that signs in to the console once, within `console.link_ttl_secs`, with the
    /// account's newest live key.
    Link {
        /// The account, by its URL id.
        #[arg(long, value_name = "URL_ID", default_value = "default")]
        account: String,
    },
}

#[derive(Subcommand)]
enum FilesAction {
    /// Print a signed delivery URL for a file (needed for private files), signed with the
    /// account's newest live key.
    Url(UrlArgs),
    /// List a folder (its sub-folders and files), or search the account's files with the
    /// `searchQuery` language of the list API; runs the same catalog query as GET /v1/files.
    Ls(LsArgs),
    /// Delete files with every version, their bytes and renditions; all or nothing (an
    /// unknown file deletes nothing). Takes file ids, or file paths starting with `/`.
    Rm(RmArgs),
}

#[derive(Args)]
struct RmArgs {
    /// File ids (as uploads and `files ls --json` print them) or paths like /photos/cat.jpg.
    #[arg(required = true, value_name = "ID_OR_PATH")]
    files: Vec<String>,
    /// The account, by its URL id.
    #[arg(long, value_name = "URL_ID", default_value = "default")]
    account: String,
}

#[derive(Args)]
struct LsArgs {
    /// The folder to list (only what is directly in it), e.g. /photos; without it, the whole
    /// account (files only).
    path: Option<String>,
    /// A searchQuery, e.g. 'name : "cat" AND size < "1mb"'.
    #[arg(long, value_name = "QUERY")]
    search: Option<String>,
    /// Print the list API's JSON array instead of one line per item.
    #[arg(long)]
    json: bool,
    /// Items at most (1-1000).
    #[arg(long, default_value_t = 1000)]
    limit: u32,
    /// Items to skip first.
    #[arg(long, default_value_t = 0)]
    skip: u64,
    /// The account, by its URL id.
    #[arg(long, value_name = "URL_ID", default_value = "default")]
    account: String,
}

#[derive(Args)]
struct UrlArgs {
    /// The file's path, e.g. /photos/cat.jpg.
    path: String,
    /// Seconds until the URL stops working; without it, it works as long as the key lives.
    #[arg(long, value_name = "SECONDS")]
    expires: Option<u64>,
    /// A transformation to sign into the URL (in the path), e.g. w-300,h-200.
    #[arg(long, value_name = "T")]
    transformation: Option<String>,
    /// The account, by its URL id.
    #[arg(long, value_name = "URL_ID", default_value = "default")]
    account: String,
}

#[derive(Subcommand)]
enum AccountsAction {
    /// Create an account and its first key pair (printed once).
    Create {
        /// The first path segment of the account's delivery URLs (lowercase letters, digits,
        /// - and _).
        url_id: String,
    },
    /// List the accounts.
    List,
    /// Refuse every request of an account's keys (its files stay).
    Disable { url_id: String },
    /// Let a disabled account's keys work again.
    Enable { url_id: String },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Create a new key pair and print it (the private key is shown this once).
    Create {
        /// The account, by its URL id (default: the first account).
        #[arg(long, value_name = "URL_ID")]
        account: Option<String>,
        /// When the key stops working: after a duration (90d, 12h, 30m) or at an RFC 3339
        /// time. Default: never.
        #[arg(long, value_name = "WHEN")]
        expires: Option<String>,
    },
    /// List key pairs (public keys only), with their account, state and expiry.
    List,
    /// Revoke a key pair by its public key.
    Revoke { public_key: String },
}

#[derive(Args)]
struct TokenArgs {
    /// An upload parameter as NAME=VALUE (repeatable); the browser must send exactly these.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Lifetime in seconds, 1 to 3600 (exp - iat may not exceed one hour).
    #[arg(long, default_value_t = 600)]
    expire: i64,
    /// Public key (kid); default: the first live key of the catalog.
    #[arg(long, env = "FOLIO_PUBLIC_KEY")]
    public_key: Option<String>,
    /// Private key; default: the one paired with the public key in the catalog.
    #[arg(long, env = "FOLIO_PRIVATE_KEY", hide_env_values = true)]
    private_key: Option<String>,
    /// Print `{"token": "..."}` instead of the bare token.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct UploadArgs {
    /// The file to upload (streamed from disk, never read whole into memory).
    file: PathBuf,
    /// An upload parameter as NAME=VALUE (repeatable), e.g. folder=/photos or tags=a,b;
    /// `fileName` defaults to the file's name. They are signed into the upload's token.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Use the resumable (tus) endpoint: checksummed chunks, retried across network failures,
    /// and an interrupted run resumed by running the same command again. The default for
    /// files over 64 MiB.
    #[arg(long)]
    resumable: bool,
    /// The server's base URL, e.g. https://folio.example.com; default: `public_url`, else
    /// http://<listen>.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// Size of a resumable upload's chunks in MiB; keep it under the body limit of any proxy
    /// in front of the server.
    #[arg(long, value_name = "MIB", default_value_t = 8,
          value_parser = clap::value_parser!(u64).range(1..=1024))]
    chunk_mib: u64,
    /// Public key (kid); default: the first live key of the catalog.
    #[arg(long, env = "FOLIO_PUBLIC_KEY")]
    public_key: Option<String>,
    /// Private key; default: the one paired with the public key in the catalog. It signs the
    /// token here and is never sent.
    #[arg(long, env = "FOLIO_PRIVATE_KEY", hide_env_values = true)]
    private_key: Option<String>,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::telemetry::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(global: &GlobalArgs) -> anyhow::Result<Config> {
    let mut config = Config::load(global.config.as_deref(), std::env::vars())?;
    if let Some(dir) = &global.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(url) = &global.catalog {
        config.catalog = url.clone();
    }
    if let Some(url) = &global.blobs {
        config.blobs = url.clone();
    }
    Ok(config)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = load_config(&cli.global)?;
    match cli.command {
        Command::Serve {
            listen,
            demo,
            read_only,
        } => {
            if let Some(listen) = listen {
                config.listen = listen;
            }
            config.read_only |= read_only;
            serve(config, demo).await
        }
        Command::Migrate { check } => migrate(config, check).await,
        Command::Accounts { action } => accounts(config, action).await,
        Command::Keys { action } => keys(config, action).await,
        Command::Token(args) => token(config, args).await,
        Command::Upload(args) => upload_file(config, args).await,
        Command::Files {
            action: FilesAction::Url(args),
        } => files_url(config, args).await,
        Command::Files {
            action: FilesAction::Ls(args),
        } => files_ls(config, args).await,
        Command::Files {
            action: FilesAction::Rm(args),
        } => files_rm(config, args).await,
        Command::Webhooks { action } => webhooks(config, action).await,
        Command::Config {
            action: ConfigAction::Print,
        } => config_print(&config),
        Command::Health => health(config).await,
        Command::Console {
            action: ConsoleAction::Link { account },
        } => console_link(config, &account).await,
        Command::Fsck { repair, json } => {
            let state = open_library(config).await?;
            let report = crate::fsck::run(&state, repair).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", crate::fsck::table(&report));
            }
            anyhow::ensure!(report.clean(), "the library has problems (see above)");
            Ok(())
        }
        Command::MigrateStore {
            to_catalog,
            to_blobs,
            dry_run,
            jobs,
        } => {
            let state = open_library(config).await?;
            let options = crate::migrate_store::Options {
                to_catalog,
                to_blobs,
                dry_run,
                jobs,
            };
            let report = crate::migrate_store::run(&state.config, &state.blobs, &options).await?;
            print!("{}", crate::migrate_store::summary(&report));
            if !dry_run {
                println!(
                    "next: point every server at the copy ({}{}) and start them without \
                     --read-only",
                    options
                        .to_catalog
                        .map(|url| format!("catalog = {}", crate::store::redact_url(&url)))
                        .unwrap_or_default(),
                    options
                        .to_blobs
                        .map(|url| format!(" blobs = {}", crate::store::redact_url(&url)))
                        .unwrap_or_default(),
                );
            }
            Ok(())
        }
        Command::Backup { dir } => {
            let manifest =
                tokio::task::spawn_blocking(move || crate::backup::backup(&config, &dir)).await??;
            println!(
                "backed up: the catalog, {} blob(s), {} bytes",
                manifest.blobs, manifest.bytes
            );
            if !manifest.missing.is_empty() {
                println!(
                    "{} blob(s) were deleted while the backup ran (their files were deleted after \
                     it began) and are not in it",
                    manifest.missing.len()
                );
            }
            Ok(())
        }
        Command::Restore { dir } => {
            let target = crate::store::redact_url(&config.catalog_url());
            let manifest =
                tokio::task::spawn_blocking(move || crate::backup::restore(&config, &dir))
                    .await??;
            println!(
                "restored into {target}: the catalog, {} blob(s), {} bytes",
                manifest.blobs, manifest.bytes
            );
            Ok(())
        }
    }
}

/// The library of a command other than `serve` (never created here), announced on stderr so
/// that a command run from the wrong folder does not pass for one run on the right library.
async fn open_library(config: Config) -> anyhow::Result<crate::state::AppState> {
    let state = crate::server::open_existing_state(config).await?;
    eprintln!(
        "folio: library {} (blobs {})",
        crate::store::redact_url(&absolute_file_url(&state.config.catalog_url())),
        crate::store::redact_url(&absolute_file_url(&state.config.blobs_url()))
    );
    Ok(state)
}

/// A `sqlite://` or `file://` URL with its path made absolute (what a person needs to see to
/// tell which folder it is); other URLs unchanged.
fn absolute_file_url(url: &str) -> String {
    for scheme in ["sqlite://", "file://"] {
        if let Some(path) = url.strip_prefix(scheme) {
            if let Ok(absolute) = std::path::absolute(path) {
                return format!("{scheme}{}", absolute.display());
            }
        }
    }
    url.to_owned()
}

/// `folio config print`: the TOML a file would need to reproduce this configuration, headed by
/// the stores it resolves to.
fn config_print(config: &Config) -> anyhow::Result<()> {
    let text = toml::to_string(config).context("rendering the configuration")?;
    println!(
        "# catalog: {}",
        crate::store::redact_url(&config.catalog_url())
    );
    println!(
        "# blobs:   {}",
        crate::store::redact_url(&config.blobs_url())
    );
    println!("# delivery URLs start with {}", config.delivery_url());
    print!("{text}");
    Ok(())
}

/// `folio health`: the probes of `GET /healthz`, run from here against the configured stores.
async fn health(config: Config) -> anyhow::Result<()> {
    let state = open_library(config).await?;
    let report = crate::http::health::probe(&state).await;
    for (name, verdict) in [("catalog", &report.catalog), ("blobs", &report.blobs)] {
        match verdict {
            Ok(()) => println!("{name}: ok"),
            Err(e) => println!("{name}: unavailable: {e}"),
        }
    }
    anyhow::ensure!(report.healthy(), "the library is not healthy");
    Ok(())
}

async fn webhooks(config: Config, action: WebhooksAction) -> anyhow::Result<()> {
    let state = open_library(config).await?;
    match action {
        WebhooksAction::Add(args) => {
            let events: Vec<String> = args
                .events
                .iter()
                .map(|e| e.trim().to_owned())
                .filter(|e| !e.is_empty())
                .collect();
            let endpoint = crate::webhooks::endpoints::add(
                &state.catalog,
                &state.fetcher,
                &args.account,
                &args.url,
                events,
            )
            .await?;
            println!("Added a webhook endpoint for {}", endpoint.url);
            println!("  id: {}", endpoint.id);
            println!("  events: {}", event_list(&endpoint.events));
            println!("  secret: {}", endpoint.secret);
            println!(
                "Keep the secret: receivers verify deliveries with it. It is not shown again."
            );
        }
        WebhooksAction::List => {
            let endpoints = state.catalog.webhook_endpoints().await?;
            if endpoints.is_empty() {
                println!("no webhook endpoints (add one with `folio webhooks add URL`)");
            }
            for e in endpoints {
                let state_text = match (&e.disabled_at_ms, &e.disabled_reason) {
                    (Some(at), reason) => format!(
                        "disabled {} ({})",
                        crate::media::details::iso_millis(*at),
                        reason.as_deref().unwrap_or("no reason")
                    ),
                    (None, _) => "active".to_owned(),
                };
                let source = if e.from_config { "config" } else { "cli" };
                println!(
                    "{}  {}  events: {}  {}  ({source})",
                    e.id,
                    e.url,
                    event_list(&e.events),
                    state_text
                );
            }
        }
        WebhooksAction::Rm { id } => {
            let endpoint = find_endpoint(&state, &id).await?;
            if endpoint.from_config {
                anyhow::bail!("{id} is declared in the config file; remove it there");
            }
            state.catalog.remove_webhook_endpoint(&id).await?;
            println!("removed {id} ({})", endpoint.url);
        }
        WebhooksAction::RotateSecret { id } => {
            let endpoint = find_endpoint(&state, &id).await?;
            if endpoint.from_config {
                anyhow::bail!("{id} is declared in the config file; change its secret there");
            }
            let secret = crate::webhooks::new_secret();
            let grace = state.config.webhooks.rotation_grace_secs;
            let until = crate::ids::now_millis()
                .saturating_add(i64::try_from(grace.saturating_mul(1000)).unwrap_or(i64::MAX));
            state
                .catalog
                .rotate_webhook_secret(&id, &secret, until)
                .await?;
            println!("New secret for {id} ({}):", endpoint.url);
            println!("  secret: {secret}");
            println!(
                "Deliveries are signed with the old secret too until {}.",
                crate::media::details::iso_millis(until)
            );
        }
        WebhooksAction::Deliveries { failed, limit } => {
            let rows = state.catalog.deliveries(failed, limit).await?;
            if rows.is_empty() {
                println!("no deliveries");
            }
            for d in rows {
                let next = if d.state == "pending" {
                    format!(
                        "  next attempt {}",
                        crate::media::details::iso_millis(d.next_attempt_at_ms)
                    )
                } else {
                    String::new()
                };
                let last = match (d.last_status, &d.last_error) {
                    (Some(status), _) => format!("  last answer {status}"),
                    (None, Some(error)) => format!("  last error: {error}"),
                    (None, None) => String::new(),
                };
                println!(
                    "{}  {}  {}  {}  {}  attempts {}{last}{next}  {}",
                    crate::media::details::iso_millis(d.created_at_ms),
                    d.event_type,
                    d.state,
                    d.target.as_deref().unwrap_or("-"),
                    d.message_id,
                    d.attempts,
                    d.endpoint_id.as_deref().unwrap_or(d.kind.as_str()),
                );
            }
        }
    }
    Ok(())
}

fn event_list(events: &[String]) -> String {
    if events.is_empty() {
        "all".to_owned()
    } else {
        events.join(",")
    }
}

async fn find_endpoint(
    state: &crate::state::AppState,
    id: &str,
) -> anyhow::Result<crate::store::WebhookEndpoint> {
    state
        .catalog
        .webhook_endpoints()
        .await?
        .into_iter()
        .find(|e| e.id == id)
        .with_context(|| format!("no webhook endpoint {id} (see `folio webhooks list`)"))
}

async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    if demo && !config.listen.ip().is_loopback() {
        // The demo's token endpoint lets whoever opens the page upload: never off this machine.
        anyhow::bail!(
            "--demo serves a token endpoint and only listens on a loopback address; \
             use e.g. --listen 127.0.0.1:{} (not {})",
            config.listen.port(),
            config.listen
        );
    }
    if let Some(warning) = config.public_url_warning() {
        tracing::warn!(listen = %config.listen, "{warning}");
    }
    let (state, created) = crate::server::open_state(config).await?;
    let (mut state, listeners) = crate::server::bind(state).await?;
    let addr = listeners.api.local_addr()?;
    if !state.config.read_only {
        crate::webhooks::endpoints::sync_config(&state.catalog, &state.fetcher, &state.config)
            .await?;
    }
    if demo {
        let keys = state.catalog.list_keys().await?;
        let key = keys
            .into_iter()
            .find(|k| !k.revoked)
            .context("--demo needs an active key pair: create one with `folio keys create`")?;
        state.demo = Some(std::sync::Arc::new(crate::web::Demo::new(
            &key.public_key,
            &key.private_key,
        )));
    }
    if let Some(key) = created {
        // Shown once, on the terminal only: never through the logger.
        println!(
            "Created the default account. Keep the private key secret; it is not shown again."
        );
        println!("  public key:  {}", key.public_key);
        println!("  private key: {}", key.private_key);
    }
    if let Some(metrics) = state.config.metrics.addr()? {
        println!("Metrics: http://{metrics}{}", crate::metrics::PATH);
    }
    if state.config.read_only {
        println!("Read-only: files and reads are served, changes answer 503 (maintenance).");
    }
    println!(
        "Folio listening on http://{addr} (upload: POST http://{addr}/api/v2/files/upload, files at {}/default/…)",
        state.config.delivery_url()
    );
    if let Some(demo) = &state.demo {
        println!(
            "Demo: open http://{addr}/demo/ to upload from the browser (tokens from /demo/auth, signed for {})",
            demo.public_key()
        );
    }
    tracing::info!(
        listen = %addr,
        catalog = %crate::store::redact_url(&state.config.catalog_url()),
        blobs = %crate::store::redact_url(&state.config.blobs_url()),
        "serving"
    );
    crate::server::serve(state, listeners, crate::server::shutdown_signal()).await;
    Ok(())
}

async fn migrate(config: Config, check: bool) -> anyhow::Result<()> {
    use crate::store::postgres::Migrate;
    let mode = if check {
        Migrate::Verify
    } else {
        Migrate::Apply
    };
    let url = crate::store::redact_url(&config.catalog_url());
    if url.starts_with("sqlite:") {
        // The embedded catalog migrates itself when it opens; there is nothing to check, and
        // only `serve` creates one.
        if check {
            println!("catalog {url}: embedded, migrated when it opens");
        } else {
            open_library(config).await?;
            println!("catalog {url}: schema is current");
        }
        return Ok(());
    }
    crate::store::open_catalog(&config, mode).await?;
    println!("catalog {url}: schema is current");
    Ok(())
}

async fn keys(config: Config, action: KeysAction) -> anyhow::Result<()> {
    let state = open_library(config).await?;
    match action {
        KeysAction::Create { account, expires } => {
            let now = crate::ids::now_secs();
            let expires_at = expires
                .as_deref()
                .map(|text| crate::accounts::parse_expiry(text, now))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--expires {e}"))?;
            let account_id = match &account {
                Some(url_id) => Some(account_named(&state, url_id).await?.id),
                None => None,
            };
            let key = state
                .catalog
                .create_key(account_id.as_deref(), expires_at)
                .await?;
            println!("public key:  {}", key.public_key);
            println!("private key: {}", key.private_key);
            if let Some(at) = expires_at {
                println!("expires:     {}", iso_secs(at));
            }
        }
        KeysAction::List => {
            let accounts = state.catalog.list_accounts().await?;
            let now = crate::ids::now_secs();
            for key in state.catalog.list_keys().await? {
                let status = if key.revoked {
                    "revoked"
                } else if key.expires_at.is_some_and(|t| t <= now) {
                    "expired"
                } else {
                    "active"
                };
                let account = accounts
                    .iter()
                    .find(|a| a.id == key.account_id)
                    .map_or("?", |a| a.url_id.as_str());
                let expires = key
                    .expires_at
                    .map(iso_secs)
                    .unwrap_or_else(|| "never".into());
                println!("{}\t{status}\t{account}\texpires {expires}", key.public_key);
            }
        }
        KeysAction::Revoke { public_key } => {
            if state.catalog.revoke_key(&public_key).await? {
                println!("revoked {public_key}");
            } else {
                anyhow::bail!("no active key {public_key}");
            }
        }
    }
    Ok(())
}

async fn accounts(config: Config, action: AccountsAction) -> anyhow::Result<()> {
    let state = open_library(config).await?;
    match action {
        AccountsAction::Create { url_id } => {
            crate::accounts::check_url_id(&url_id).map_err(anyhow::Error::msg)?;
            let (account, key) = state
                .catalog
                .create_account(&url_id)
                .await?
                .with_context(|| format!("an account with URL id {url_id} exists already"))?;
            println!(
                "Created the account {}. Keep the private key secret; it is not shown again.",
                account.url_id
            );
            println!("  url endpoint: {}", state.url_endpoint(&account.url_id));
            println!("  public key:   {}", key.public_key);
            println!("  private key:  {}", key.private_key);
        }
        AccountsAction::List => {
            for account in state.catalog.list_accounts().await? {
                let status = if account.disabled {
                    "disabled"
                } else {
                    "active"
                };
                let keys = state.catalog.account_keys(&account.id).await?;
                let live = keys
                    .iter()
                    .filter(|k| k.is_live(crate::ids::now_secs()))
                    .count();
                println!(
                    "{}\t{status}\t{live} live key(s)\t{}",
                    account.url_id,
                    state.url_endpoint(&account.url_id)
                );
            }
        }
        AccountsAction::Disable { url_id } => set_disabled(&state, &url_id, true).await?,
        AccountsAction::Enable { url_id } => set_disabled(&state, &url_id, false).await?,
    }
    Ok(())
}

async fn set_disabled(
    state: &crate::state::AppState,
    url_id: &str,
    disabled: bool,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        state.catalog.set_account_disabled(url_id, disabled).await?,
        "no account with URL id {url_id} (see `folio accounts list`)"
    );
    println!(
        "{url_id}: {}",
        if disabled { "disabled" } else { "enabled" }
    );
    Ok(())
}

/// The account with `url_id`, or an error that says how to find one.
async fn account_named(
    state: &crate::state::AppState,
    url_id: &str,
) -> anyhow::Result<crate::store::Account> {
    state
        .catalog
        .account_by_url_id(url_id)
        .await?
        .with_context(|| format!("no account with URL id {url_id} (see `folio accounts list`)"))
}

/// Unix seconds as the API's ISO 8601 times are written.
fn iso_secs(secs: i64) -> String {
    crate::media::details::iso_millis(secs.saturating_mul(1000))
}

/// The key pair to sign with: both given, or the first live one of the catalog (matching the
/// public key when only that is given).
async fn key_pair(
    config: Config,
    public: Option<String>,
    private: Option<String>,
) -> anyhow::Result<(String, String)> {
    if let (Some(public), Some(private)) = (&public, private) {
        return Ok((public.clone(), private));
    }
    let state = open_library(config).await?;
    let keys = state.catalog.list_keys().await?;
    let key = keys
        .into_iter()
        .find(|k| !k.revoked && public.as_ref().is_none_or(|p| *p == k.public_key))
        .context(
            "no matching active key in the catalog (or pass --public-key and --private-key)",
        )?;
    Ok((key.public_key, key.private_key))
}

/// `--param NAME=VALUE` arguments as pairs, in order; a name given twice keeps its last value
/// (as the token builder does, so that form fields and token payload never differ).
fn parse_params(args: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    let mut params: Vec<(String, String)> = Vec::with_capacity(args.len());
    for param in args {
        let (name, value) = param
            .split_once('=')
            .with_context(|| format!("--param {param}: expected NAME=VALUE"))?;
        match params.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value.to_owned(),
            None => params.push((name.to_owned(), value.to_owned())),
        }
    }
    Ok(params)
}

/// A v2 upload token for exactly `params`; what the server would refuse is refused here,
/// naming the flag at fault.
fn mint_token(
    public_key: &str,
    private_key: &str,
    params: &[(String, String)],
    expire: i64,
) -> anyhow::Result<String> {
    let mut builder = folio_token::UploadToken::new(public_key, private_key).expires_in(expire);
    for (name, value) in params {
        builder = builder.param(name, value);
    }
    builder.sign().map_err(|e| match &e {
        folio_token::MintError::ForbiddenParam(name)
        | folio_token::MintError::ReservedClaim(name) => {
            anyhow::anyhow!("--param {name}=…: {e}")
        }
        folio_token::MintError::NonPositiveLifetime(_)
        | folio_token::MintError::LifetimeTooLong(_) => {
            anyhow::anyhow!("--expire {expire}: {e}")
        }
        _ => anyhow::anyhow!("cannot mint the token: {e}"),
    })
}

async fn token(config: Config, args: TokenArgs) -> anyhow::Result<()> {
    let params = parse_params(&args.params)?;
    let (public_key, private_key) = key_pair(config, args.public_key, args.private_key).await?;
    let token = mint_token(&public_key, &private_key, &params, args.expire)?;
    if args.json {
        println!("{}", serde_json::json!({ "token": token }));
    } else {
        println!("{token}");
    }
    Ok(())
}

/// `folio upload`: the server's own upload API, spoken to over HTTP (see `cli/upload.rs`).
async fn upload_file(config: Config, args: UploadArgs) -> anyhow::Result<()> {
    let params = parse_params(&args.params)?;
    let server = match args.server {
        Some(url) => url,
        None => upload::default_server(&config),
    };
    let state_dir = upload::state_dir(&config);
    let (public_key, private_key) = key_pair(config, args.public_key, args.private_key).await?;
    let result = upload::run(upload::Upload {
        file: args.file,
        params,
        resumable: args.resumable,
        server,
        public_key,
        private_key,
        chunk_size: args.chunk_mib * 1024 * 1024,
        state_dir,
    })
    .await?;
    println!("{}", result.trim_end());
    Ok(())
}

/// `folio files ls`: a folder's listing or a search, through the list API's catalog query.
async fn files_ls(config: Config, args: LsArgs) -> anyhow::Result<()> {
    use crate::media::details::{file_details, folder_details, Listed, RenderContext};
    use crate::store::listing::{ListQuery, ListType, Sort, SortKey};
    use crate::store::ListedItem;

    if !(1..=1000).contains(&args.limit) {
        anyhow::bail!("--limit {}: must be between 1 and 1000", args.limit);
    }
    let state = open_library(config).await?;
    let account = state
        .catalog
        .account_by_url_id(&args.account)
        .await?
        .with_context(|| format!("no account with URL id {:?}", args.account))?;
    let ctx = RenderContext::load(&state, &account)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.status_and_message().1))?;
    let mut query = ListQuery {
        sort: Sort {
            key: SortKey::Name,
            descending: false,
        },
        limit: args.limit,
        skip: args.skip,
        ..ListQuery::default()
    };
    if let Some(path) = &args.path {
        let folder = folio_contract::Folder::parse(path)
            .map_err(|_| anyhow::anyhow!("{path:?} is not a folder path"))?;
        query.path = Some(folder.path());
        // A folder's listing shows its sub-folders too, as `ls` does.
        query.list_type = ListType::All;
        query.include_folder = true;
    }
    if let Some(text) = &args.search {
        let parsed =
            folio_contract::search::parse_search(text, &ctx.live_fields, crate::ids::now_millis())
                .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
        query.search = Some(parsed);
    }
    let items = state.catalog.list_files(&account.id, &query).await?;
    if args.json {
        let listed: Vec<Listed> = items
            .iter()
            .map(|item| match item {
                ListedItem::File(v) => Listed::File(Box::new(file_details(v, &ctx))),
                ListedItem::Folder(f) => Listed::Folder(folder_details(f)),
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&listed)?);
        return Ok(());
    }
    for item in &items {
        match item {
            ListedItem::Folder(folder) => println!("{:>12}  {:24}  {}", "-", "", folder.path),
            ListedItem::File(v) => {
                let details = file_details(v, &ctx);
                let marker = if v.is_current {
                    ""
                } else {
                    "  (older version)"
                };
                println!(
                    "{:>12}  {:24}  {}{marker}",
                    v.size, details.created_at, v.file_path
                );
            }
        }
    }
    Ok(())
}

/// `folio files rm`: the media API's bulk delete (rows first, then blobs), for operators.
async fn files_rm(config: Config, args: RmArgs) -> anyhow::Result<()> {
    let state = open_library(config).await?;
    let account = state
        .catalog
        .account_by_url_id(&args.account)
        .await?
        .with_context(|| format!("no account with URL id {:?}", args.account))?;
    let mut ids = Vec::with_capacity(args.files.len());
    let mut unknown = Vec::new();
    for arg in &args.files {
        if arg.starts_with('/') {
            match state.catalog.current_by_path(&account.id, arg).await? {
                Some(version) => ids.push(version.file_id),
                None => unknown.push(arg.clone()),
            }
        } else if crate::ids::is_object_id(arg) {
            ids.push(arg.clone());
        } else {
            anyhow::bail!("{arg:?} is neither a file id (24 hex digits) nor a path (/…)");
        }
    }
    let missing = if unknown.is_empty() {
        // The deletions are the account's events like any other (no request behind them).
        let outbox = crate::media::service::deletion_outbox(&state, &account, None);
        match crate::media::service::delete_files(&state, &account.id, &ids, &outbox).await {
            Ok(deleted) => {
                for id in deleted {
                    println!("deleted {id}");
                }
                return Ok(());
            }
            Err(crate::error::AppError::FilesNotFound(missing)) => missing,
            Err(e) => anyhow::bail!("{}", e.status_and_message().1),
        }
    } else {
        unknown
    };
    anyhow::bail!(
        "no such file in account {:?}: {}; nothing was deleted",
        args.account,
        missing.join(", ")
    )
}

/// `folio files url`: the URL a signing SDK would build for this file, so that it can be
/// checked against the server (or handed out) without writing code.
async fn files_url(config: Config, args: UrlArgs) -> anyhow::Result<()> {
    use crate::delivery::signed_url;

    if let Some(t) = &args.transformation {
        crate::delivery::check_transformation(t)
            .map_err(|e| anyhow::anyhow!("--transformation {t}: {}", e.status_and_message().1))?;
    }
    let state = open_library(config).await?;
    let now = state.clock.now_secs();
    let expiry = match args.expires {
        None => None,
        Some(0) => anyhow::bail!("--expires 0: must be positive"),
        Some(secs) => {
            let at = u64::try_from(now)
                .ok()
                .and_then(|now| now.checked_add(secs))
                .filter(|at| *at <= signed_url::NO_EXPIRY)
                .with_context(|| {
                    format!(
                        "--expires {secs}: the URL would expire after {}, the largest expiry",
                        signed_url::NO_EXPIRY
                    )
                })?;
            Some(at)
        }
    };
    let (account, key) = newest_live_key(&state, &args.account, now).await?;
    let file_path = format!("/{}", args.path.trim_start_matches('/'));
    let version = state
        .catalog
        .current_by_path(&account.id, &file_path)
        .await?
        .with_context(|| format!("no file {file_path} in account {:?}", args.account))?;
    if !version.is_published {
        anyhow::bail!("{file_path} is unpublished: its URL answers 404, signed or not");
    }
    let encoded = folio_contract::url_path_encode(&file_path);
    let relative = match &args.transformation {
        Some(t) => format!("tr:{t}{encoded}"),
        None => encoded.trim_start_matches('/').to_owned(),
    };
    let url_endpoint = state.url_endpoint(&account.url_id);
    println!(
        "{}",
        signed_url::signed_url(&key.private_key, &url_endpoint, &relative, expiry)
    );
    Ok(())
}

/// The account with URL id `url_id` and its newest key that is neither revoked nor expired.
async fn newest_live_key(
    state: &crate::state::AppState,
    url_id: &str,
    now: i64,
) -> anyhow::Result<(crate::store::Account, crate::store::ApiKey)> {
    let account = state
        .catalog
        .account_by_url_id(url_id)
        .await?
        .with_context(|| format!("no account with URL id {url_id:?}"))?;
    let keys = state.catalog.account_keys(&account.id).await?;
    let key = keys
        .into_iter()
        .rev()
        .find(|k| k.is_live(now))
        .with_context(|| {
            format!("account {url_id:?} has no live key: create one with `folio keys create`")
        })?;
    Ok((account, key))
}

/// `folio console link`: a one-time sign-in link for the console.
async fn console_link(config: Config, account: &str) -> anyhow::Result<()> {
    let state = open_library(config).await?;
    if !state.config.console.enabled {
        anyhow::bail!("the console is switched off (console.enabled = false)");
    }
    let (_, key) = newest_live_key(&state, account, state.clock.now_secs()).await?;
    let url = crate::console::create_link(&state, &key.public_key).await?;
    println!("{url}");
    eprintln!(
        "folio: the link signs in once with key {} within {} s",
        key.public_key, state.config.console.link_ttl_secs
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_keep_their_order_and_a_repeated_name_its_last_value() {
        let args: Vec<String> = ["fileName=a.jpg", "tags=x,y", "fileName=b=c.jpg", "empty="]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let pairs = parse_params(&args).expect("valid");
        let pairs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [("fileName", "b=c.jpg"), ("tags", "x,y"), ("empty", "")]
        );
        let error = parse_params(&["fileName".to_owned()]).expect_err("no =");
        assert!(error.to_string().contains("expected NAME=VALUE"), "{error}");
    }
}
