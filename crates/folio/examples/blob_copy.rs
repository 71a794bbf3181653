//! The yardstick of `bench/migrate.sh`: copies every version blob of one store to another as
//! plainly as the machine allows (no catalog, no hashing, no read-back), `--jobs` at once, and
//! prints the blobs, bytes and seconds of the copy as one JSON line. `folio migrate-store` is
//! measured against this rate.
//!
//! ```text
//! cargo build --release -p folio --example blob_copy
//! FOLIO_S3__ACCESS_KEY_ID=… FOLIO_S3__SECRET_ACCESS_KEY=… \
//!   target/release/examples/blob_copy --from file:///data/blobs --to 's3://bucket/p?endpoint=…' --jobs 8
//! ```

use std::time::Instant;

use anyhow::Context;
use folio::store::blob::{is_version_blob_key, BlobStore};
use futures_util::{StreamExt, TryStreamExt};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

async fn copy(from: &BlobStore, to: &BlobStore, key: &str) -> anyhow::Result<u64> {
    let object = from.get(key, None).await?;
    let mut writer = to.writer(key);
    let mut bytes = object.stream;
    while let Some(chunk) = bytes.try_next().await? {
        writer.write(chunk).await?;
    }
    let written = writer.written();
    writer.finish().await?;
    Ok(written)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let from = arg(&args, "--from").context("--from URL")?;
    let to = arg(&args, "--to").context("--to URL")?;
    let jobs: usize = arg(&args, "--jobs").map_or(Ok(8), |j| j.parse())?;
    let mut config = folio::config::Config::default();
    config.s3.access_key_id = std::env::var("FOLIO_S3__ACCESS_KEY_ID").unwrap_or_default();
    config.s3.secret_access_key = std::env::var("FOLIO_S3__SECRET_ACCESS_KEY").unwrap_or_default();
    let (from, to) = (
        BlobStore::open_url(&from, &config)?,
        BlobStore::open_url(&to, &config)?,
    );
    let keys: Vec<String> = from
        .list_version_blobs()
        .map_ok(|(key, _)| key)
        .try_filter(|key| std::future::ready(is_version_blob_key(key)))
        .try_collect()
        .await?;
    let started = Instant::now();
    let bytes: u64 = futures_util::stream::iter(keys.iter())
        .map(|key| copy(&from, &to, key))
        .buffer_unordered(jobs.max(1))
        .try_fold(0, |total, n| async move { Ok(total + n) })
        .await?;
    println!(
        "{{\"blobs\":{},\"bytes\":{bytes},\"seconds\":{:.3}}}",
        keys.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
