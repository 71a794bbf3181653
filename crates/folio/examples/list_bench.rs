//! Benchmark of `GET /v1/files` on the embedded default (SQLite): seeds one account with many
//! files directly through the catalog, prints SQLite's plan for each measured query, then
//! starts the real `folio serve` on that data and measures latency percentiles of list and
//! search requests over HTTP, and the server's resident memory while it answers them.
//!
//! ```text
//! cargo build --release -p folio --bin folio --example list_bench
//! target/release/examples/list_bench --files 100000 --bin target/release/folio
//! ```
//!
//! Not a test: it asserts nothing about time. The figures it printed on the reference machine
//! are in docs/design.md ("List and search").

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use folio::store::listing::{compile, Bind, Dialect, ListQuery};
use folio::store::sqlite::SqliteCatalog;
use folio::store::{Catalog, MediaInfo, NewUpload};
use sqlx::Row;

const FOLDERS: usize = 100;
const TAGS: [&str; 20] = [
    "summer", "winter", "sale", "banner", "product", "hero", "thumb", "draft", "final", "red",
    "blue", "green", "cat", "dog", "car", "city", "beach", "night", "logo", "team",
];
const WORDS: [&str; 8] = [
    "abc", "photo", "shot", "scan", "image", "pic", "render", "frame",
];

/// A small deterministic generator (no dependency, same library every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let files: usize = arg("--files").map_or(Ok(100_000), |n| n.parse())?;
    let bin = arg("--bin").unwrap_or_else(|| "target/release/folio".to_owned());
    let requests: usize = arg("--requests").map_or(Ok(200), |n| n.parse())?;
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("folio.db");
    let url = format!("sqlite://{}", db.display());

    // 1. Seed through the catalog (the upload path's commit, without bytes).
    let catalog = Arc::new(SqliteCatalog::open(&url, false).await?);
    let key = catalog.bootstrap().await?.context("fresh catalog")?;
    let account = key.account_id.clone();
    let started = Instant::now();
    let mut rng = Lcg(42);
    let mut seeded = 0;
    let seed_start_ms = folio::ids::now_millis();
    while seeded < files {
        let batch: Vec<NewUpload> = (seeded..files.min(seeded + 512))
            .map(|i| {
                let folder = format!("/f{:03}/", i % FOLDERS);
                let word = WORDS[(rng.next() % WORDS.len() as u64) as usize];
                let version_id = folio::ids::object_id();
                let tags = vec![
                    TAGS[(rng.next() % TAGS.len() as u64) as usize].to_owned(),
                    TAGS[(rng.next() % TAGS.len() as u64) as usize].to_owned(),
                ];
                NewUpload {
                    account_id: account.clone(),
                    blob_key: folio::store::blob::blob_key(&version_id),
                    version_id,
                    folder_ancestors: vec![folder.clone()],
                    folder_path: folder,
                    base_name: format!("{word}-{i:06}.jpg"),
                    proposed_name: None,
                    use_unique_file_name: false,
                    overwrite_file: true,
                    overwrite_tags: true,
                    overwrite_ai_tags: true,
                    overwrite_custom_metadata: true,
                    tags: Some(tags),
                    custom_metadata: None,
                    custom_metadata_defaults: Default::default(),
                    custom_coordinates: None,
                    is_private_file: false,
                    is_published: true,
                    description: None,
                    size: 1024 + rng.next() % (5 << 20),
                    media: MediaInfo {
                        mime: "image/jpeg".to_owned(),
                        file_type: "image".to_owned(),
                        format: Some("jpg".to_owned()),
                        width: Some(100 + (rng.next() % 4000) as u32),
                        height: Some(100 + (rng.next() % 3000) as u32),
                        ..MediaInfo::default()
                    },
                    max_versions: 100,
                    outbox: folio::store::Outbox::none(),
                }
            })
            .collect();
        let n = batch.len();
        let commits = batch.into_iter().map(|up| {
            let catalog = Arc::clone(&catalog);
            tokio::spawn(async move { catalog.commit_upload(&up).await })
        });
        for done in futures_util::future::join_all(commits).await {
            done??;
        }
        seeded += n;
    }
    let seed_end_ms = folio::ids::now_millis();
    println!(
        "seeded {files} files in {FOLDERS} folders in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    drop(catalog);

    // The measured requests: (label, query string).
    let mid = seed_start_ms + (seed_end_ms - seed_start_ms) / 2;
    let iso = |ms: i64| folio_contract::search::format_millis(ms);
    let enc = |q: &str| form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>();
    let scenarios: Vec<(&str, String)> = vec![
        ("path=/f042/ limit=100", "path=/f042/&limit=100".to_owned()),
        ("whole library limit=100", "limit=100".to_owned()),
        (
            "name : \"abc\"",
            format!("limit=100&searchQuery={}", enc("name : \"abc\"")),
        ),
        (
            "tags IN [2 tags]",
            format!(
                "limit=100&searchQuery={}",
                enc("tags IN [\"beach\", \"night\"]")
            ),
        ),
        (
            "tags IN [a tag nobody has]",
            format!("limit=100&searchQuery={}", enc("tags IN [\"nobody\"]")),
        ),
        (
            "createdAt range",
            format!(
                "limit=100&searchQuery={}",
                enc(&format!(
                    "createdAt >= \"{}\" AND createdAt < \"{}\"",
                    iso(mid),
                    iso(mid + 2000)
                ))
            ),
        ),
        (
            "size range",
            format!(
                "limit=100&searchQuery={}",
                enc("size >= \"1mb\" AND size < \"1.01mb\"")
            ),
        ),
        (
            "path + DESC_SIZE",
            "path=/f007/&limit=100&sort=DESC_SIZE".to_owned(),
        ),
    ];

    // 2. SQLite's plans for the same queries.
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await?;
    sqlx::query("ANALYZE").execute(&pool).await?;
    for (label, qs) in &scenarios {
        let params =
            folio::media::list::parse_list_params(qs).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let mut query: ListQuery = params.query;
        if let Some(text) = params.search {
            query.search = Some(
                folio_contract::search::parse_search(
                    &text,
                    &folio_contract::NoCustomFields,
                    folio::ids::now_millis(),
                )
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            );
        }
        let sql = compile(&query, &account, Dialect::Sqlite);
        let explain = format!("EXPLAIN QUERY PLAN {}", sql.text);
        let mut statement = sqlx::query(&explain).persistent(false);
        for bind in &sql.binds {
            statement = match bind {
                Bind::Text(t) => statement.bind(t.clone()),
                Bind::Int(n) => statement.bind(*n),
                Bind::Real(x) => statement.bind(*x),
            };
        }
        println!("\nplan: {label}");
        for row in statement.fetch_all(&pool).await? {
            let detail: String = row.try_get("detail")?;
            println!("    {detail}");
        }
    }
    pool.close().await;

    // 3. The real server on that data.
    let mut server = Command::new(&bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("FOLIO_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {bin}"))?;
    let base = listening_on(&mut server)?;
    let client = reqwest::Client::new();
    let rss = |pid: u32| -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(0)
    };
    let pid = server.id();
    println!("\nserver RSS at start: {} MiB", rss(pid) / 1024);
    println!(
        "\n{:28} {:>8} {:>8} {:>8} {:>6} {:>12}",
        "request", "p50 ms", "p95 ms", "max ms", "items", "RSS MiB"
    );
    for (label, qs) in &scenarios {
        let url = format!("{base}/v1/files?{qs}");
        let mut times = Vec::with_capacity(requests);
        let mut items = 0;
        let mut rss_seen = Vec::new();
        for i in 0..requests + 20 {
            let t = Instant::now();
            let response = client
                .get(&url)
                .basic_auth(&key.private_key, Some(""))
                .send()
                .await?;
            anyhow::ensure!(response.status() == 200, "{label}: {}", response.status());
            let body: serde_json::Value = response.json().await?;
            let elapsed = t.elapsed();
            items = body.as_array().map_or(0, Vec::len);
            if i >= 20 {
                times.push(elapsed);
            }
            if i % 40 == 0 {
                rss_seen.push(rss(pid) / 1024);
            }
        }
        times.sort();
        let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{label:28} {:>8.2} {:>8.2} {:>8.2} {items:>6} {:>12}",
            ms(pct(0.50)),
            ms(pct(0.95)),
            ms(pct(1.0)),
            format!(
                "{}-{}",
                rss_seen.iter().min().unwrap_or(&0),
                rss_seen.iter().max().unwrap_or(&0)
            ),
        );
    }
    println!("\nserver RSS at end: {} MiB", rss(pid) / 1024);
    let _ = server.kill();
    let _ = server.wait();
    Ok(())
}

/// Reads the server's banner until it says where it listens.
fn listening_on(server: &mut Child) -> anyhow::Result<String> {
    let stdout = server.stdout.take().context("stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("Folio listening on http://") {
                let addr = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let _ = tx.send(addr);
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .context("no banner")?;
    Ok(format!("http://{addr}"))
}
