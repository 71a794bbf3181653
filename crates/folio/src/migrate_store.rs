//! `folio migrate-store`: copies a whole library to another catalog, another blob store, or
//! both (SQLite ↔ PostgreSQL, local files ↔ S3), so that a library started on one machine can
//! grow onto several.
//!
//! The run, in order:
//!
//! 1. **catalog**: every table of [`transfer::TABLES`], parents first, read in key order and
//!    written in batches, each row replacing the row of its key, so a run can stop anywhere and
//!    run again (nothing is duplicated, a row changed in between is brought up to date).
//!    Not carried: ledger entries of tokens already expired (the time check refuses those
//!    tokens anyway), resumable uploads still receiving (their bytes so far sit in the source's
//!    partial store, in a form tied to it: their clients start again), rate-limit windows and
//!    rendition caches (made again on demand).
//! 2. **blobs**: every blob the (new) catalog names, streamed with its MD5 taken on the way,
//!    then checked at the destination by size and MD5: the MD5 S3 computed of what it stored
//!    (the ETag of a single-part upload), or else the copy read back. (No read-back where the
//!    store vouches: it would double the requests.) A blob already at the destination (a
//!    resumed run) is kept if it checks out the same way against the source's bytes.
//! 3. **verify**: every table is read again on both sides and compared, row count and a digest
//!    of the rows (independent of order: the two databases may sort text differently).
//!
//! Writes to the source during the run are refused, not caught up: the source is served with
//! `folio serve --read-only` meanwhile (reads and deliveries go on). The verify step finds any
//! write that slipped through; a second run then catches up rows added or changed, but not rows
//! deleted (docs/deploy.md, "Growing from one machine to many").

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{bail, Context};
use futures_util::{stream, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use md5::Md5;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::store::blob::{BlobStat, BlobStore};
use crate::store::resumable::ResumableState;
use crate::store::transfer::{self, Cell, Filter, RawCatalog, Row, Table, TABLES};

/// Rows read per page.
const PAGE: u32 = 1000;

#[derive(Debug, Clone)]
pub struct Options {
    /// The catalog to copy into; `None`: the library keeps its catalog.
    pub to_catalog: Option<String>,
    /// The blob store to copy into; `None`: the library keeps its blobs.
    pub to_blobs: Option<String>,
    /// Say what would be copied, and write nothing.
    pub dry_run: bool,
    /// Blobs copied at once.
    pub jobs: usize,
}

/// What a run copied (or, dry, would copy).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub dry_run: bool,
    /// Rows per table, in copy order; empty when the catalog stays.
    pub tables: Vec<TableRows>,
    /// Ledger entries of expired tokens, and resumable uploads still receiving: left behind.
    pub expired_tokens: u64,
    pub receiving_uploads: u64,
    /// `None` when the blobs stay.
    pub blobs: Option<BlobTally>,
}

#[derive(Debug, Serialize)]
pub struct TableRows {
    pub table: &'static str,
    pub rows: u64,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobTally {
    /// Blobs the catalog names, and their bytes (by the catalog's sizes).
    pub total: u64,
    pub bytes: u64,
    /// Copied in this run, and already at the destination with the same bytes.
    pub copied: u64,
    pub already_there: u64,
    /// Named by the catalog but absent from the source (`folio fsck` reports them too).
    pub missing: Vec<String>,
    /// Present in the source at a size other than the catalog's: copied as they are.
    pub damaged: Vec<String>,
}

/// The domain's rule of what moves with a library, per table: `None` takes every row.
fn carried(table: &Table, now_secs: i64) -> Option<Filter> {
    match table.name {
        // A token past its expiry is refused by the time check; its ledger entry is dead.
        "burned_tokens" => Some(Filter {
            column: "expires_at",
            op: ">",
            value: Cell::Int(now_secs),
        }),
        // The bytes of an upload still arriving live in the source's partial store.
        "resumable_uploads" => Some(Filter {
            column: "state",
            op: "<>",
            value: Cell::Text(ResumableState::Receiving.as_str().to_owned()),
        }),
        _ => None,
    }
}

/// Runs the migration of the library `config` names (whose blobs `source_blobs` reads).
pub async fn run(
    config: &Config,
    source_blobs: &BlobStore,
    options: &Options,
) -> anyhow::Result<Report> {
    let catalog_url = config.catalog_url();
    let blobs_url = config.blobs_url();
    let to_catalog = options
        .to_catalog
        .as_deref()
        .filter(|url| !same_store(url, &catalog_url));
    let to_blobs = options
        .to_blobs
        .as_deref()
        .filter(|url| !same_store(url, &blobs_url));
    if to_catalog.is_none() && to_blobs.is_none() {
        bail!(
            "nothing to move: give --to-catalog and/or --to-blobs naming stores other than the \
             library's own ({} and {})",
            crate::store::redact_url(&catalog_url),
            crate::store::redact_url(&blobs_url)
        );
    }
    let source = RawCatalog::open(&catalog_url, &config.postgres, false)
        .await?
        .context("the library's catalog does not exist")?;
    check_schema(&source, "the library's catalog").await?;
    let now = crate::ids::now_secs();
    let mut report = Report {
        dry_run: options.dry_run,
        ..Report::default()
    };

    let destination = match to_catalog {
        Some(url) => {
            let opened = RawCatalog::open(url, &config.postgres, !options.dry_run).await?;
            if let Some(destination) = &opened {
                check_destination(&source, destination).await?;
            }
            opened
        }
        None => None,
    };
    if to_catalog.is_some() {
        for table in TABLES {
            let filter = carried(table, now);
            let rows = source.count(table, filter.as_ref()).await?;
            if filter.is_some() {
                let left = source.count(table, None).await?.saturating_sub(rows);
                match table.name {
                    "burned_tokens" => report.expired_tokens = left,
                    "resumable_uploads" => report.receiving_uploads = left,
                    _ => {}
                }
            }
            report.tables.push(TableRows {
                table: table.name,
                rows,
            });
        }
    }
    if to_blobs.is_some() {
        let (total, bytes) = blob_totals(&source).await?;
        report.blobs = Some(BlobTally {
            total,
            bytes,
            ..BlobTally::default()
        });
    }
    if options.dry_run {
        if let Some(url) = to_blobs.filter(|url| url.starts_with("s3://")) {
            // Reachable and allowed, without writing anything.
            BlobStore::open_url(url, config)?.ping().await?;
        }
        return Ok(report);
    }

    if let Some(destination) = &destination {
        copy_catalog(&source, destination, now, &report).await?;
    }
    if let (Some(url), Some(tally)) = (to_blobs, report.blobs.as_mut()) {
        let target = BlobStore::open_url(url, config)?;
        // The blobs of the rows just copied: a version the source gained since is not in this
        // list, and the verify step below finds its row missing.
        let listing = destination.as_ref().unwrap_or(&source);
        copy_blobs(listing, source_blobs, &target, options.jobs.max(1), tally).await?;
    }
    if let Some(destination) = &destination {
        verify_catalog(&source, destination, now).await?;
        destination.close().await;
    }
    source.close().await;
    Ok(report)
}

/// Whether two store URLs name the same place (a path spelt relative or absolute).
fn same_store(a: &str, b: &str) -> bool {
    fn normal(url: &str) -> String {
        for scheme in ["sqlite://", "file://"] {
            if let Some(path) = url.strip_prefix(scheme) {
                let path = std::path::Path::new(path);
                let path = path
                    .canonicalize()
                    .or_else(|_| std::path::absolute(path))
                    .unwrap_or_else(|_| path.to_owned());
                return format!("{scheme}{}", path.display());
            }
        }
        url.trim_end_matches('/').to_owned()
    }
    normal(a) == normal(b)
}

/// The catalog has every table and column this version copies (it is not behind).
async fn check_schema(catalog: &RawCatalog, what: &str) -> anyhow::Result<()> {
    for table in TABLES {
        let columns = catalog.columns(table.name).await?;
        let missing: Vec<&str> = table
            .columns
            .iter()
            .map(|(c, _)| *c)
            .filter(|c| !columns.iter().any(|have| have == c))
            .collect();
        if !missing.is_empty() {
            bail!(
                "{what} is behind this version ({}: no {}); start `folio serve` on it once, or \
                 run `folio migrate`, first",
                table.name,
                missing.join(", ")
            );
        }
    }
    Ok(())
}

/// The destination is empty, or holds this library from an earlier (interrupted) run: every
/// account it has is one of the source's. Anything else would mix two libraries.
async fn check_destination(source: &RawCatalog, destination: &RawCatalog) -> anyhow::Result<()> {
    if !destination.has_table("accounts").await? {
        return Ok(());
    }
    check_schema(destination, "the destination catalog").await?;
    let accounts = transfer::table("accounts").context("the accounts table")?;
    let mut after: Option<Vec<Cell>> = None;
    loop {
        let page = destination
            .read(accounts, None, after.as_deref(), PAGE)
            .await?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        for row in &page {
            let id = accounts.key_of(row);
            let Some(id) = id.first() else { continue };
            let same = Filter {
                column: "id",
                op: "=",
                value: id.clone(),
            };
            if source.count(accounts, Some(&same)).await? == 0 {
                bail!(
                    "the destination catalog holds another library (its account {} is not in \
                     this one): migrate into an empty database or schema",
                    match id {
                        Cell::Text(id) => id.as_str(),
                        _ => "?",
                    }
                );
            }
        }
        after = Some(accounts.key_of(last));
    }
}

async fn blob_totals(catalog: &RawCatalog) -> anyhow::Result<(u64, u64)> {
    let (mut count, mut bytes) = (0, 0);
    let mut after = String::new();
    loop {
        let page = catalog.blobs_after(&after, PAGE).await?;
        let Some((last, _)) = page.last() else {
            return Ok((count, bytes));
        };
        after = last.clone();
        count += page.len() as u64;
        bytes += page.iter().map(|(_, size)| size).sum::<u64>();
    }
}

async fn copy_catalog(
    source: &RawCatalog,
    destination: &RawCatalog,
    now: i64,
    report: &Report,
) -> anyhow::Result<()> {
    let total = report.tables.iter().map(|t| t.rows).sum();
    let progress = Progress::new("catalog rows", total, false);
    for table in TABLES {
        let filter = carried(table, now);
        let mut after: Option<Vec<Cell>> = None;
        loop {
            let page = source
                .read(table, filter.as_ref(), after.as_deref(), PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(table.key_of(last));
            destination
                .upsert(table, &page)
                .await
                .with_context(|| format!("writing {}", table.name))?;
            progress.add(page.len() as u64);
        }
        destination.after_copy(table).await?;
    }
    progress.finish();
    Ok(())
}

/// How one blob went.
enum BlobOutcome {
    Copied { damaged: bool },
    AlreadyThere,
    Missing,
}

async fn copy_blobs(
    listing: &RawCatalog,
    from: &BlobStore,
    to: &BlobStore,
    jobs: usize,
    tally: &mut BlobTally,
) -> anyhow::Result<()> {
    let progress = Progress::new("blob bytes", tally.bytes, true);
    // Pages of keys, read as the copies go: memory holds one page and `jobs` streams.
    let keys = stream::try_unfold(Some(String::new()), |after| async move {
        let Some(after) = after else {
            return Ok(None);
        };
        let page = listing.blobs_after(&after, PAGE).await?;
        let next = page.last().map(|(key, _)| key.clone());
        anyhow::Ok(Some((stream::iter(page.into_iter().map(anyhow::Ok)), next)))
    })
    .try_flatten();
    let outcomes = keys
        .map_ok(|(key, size)| {
            let progress = &progress;
            async move {
                let outcome = copy_blob(from, to, &key, size)
                    .await
                    .with_context(|| format!("copying blob {key}"))?;
                progress.add(size);
                anyhow::Ok((key, outcome))
            }
        })
        .try_buffer_unordered(jobs);
    let mut outcomes = std::pin::pin!(outcomes);
    while let Some((key, outcome)) = outcomes.try_next().await? {
        match outcome {
            BlobOutcome::Copied { damaged } => {
                tally.copied += 1;
                if damaged {
                    tally.damaged.push(key);
                }
            }
            BlobOutcome::AlreadyThere => tally.already_there += 1,
            BlobOutcome::Missing => tally.missing.push(key),
        }
    }
    progress.finish();
    Ok(())
}

/// A blob's size and the MD5 of its bytes.
type Fingerprint = (u64, [u8; 16]);

/// Copies one blob, then checks the copy by size and MD5: the destination's own MD5 of what
/// it stored (S3's ETag), or else the copy read back.
async fn copy_blob(
    from: &BlobStore,
    to: &BlobStore,
    key: &str,
    size: u64,
) -> anyhow::Result<BlobOutcome> {
    if let Some(there) = to.stat(key).await?.filter(|s| s.size == size) {
        // An earlier run's copy stays if its bytes are the source's.
        let Some(source) = fingerprint(from, key).await? else {
            return Ok(BlobOutcome::Missing);
        };
        if holds(to, key, there, source).await? {
            return Ok(BlobOutcome::AlreadyThere);
        }
    }
    let Some(object) = from.get_if_exists(key).await? else {
        return Ok(BlobOutcome::Missing);
    };
    let source_size = object.size;
    let mut writer = to.writer(key);
    let mut md5 = Md5::new();
    let mut bytes = object.stream;
    while let Some(chunk) = bytes.try_next().await? {
        md5.update(&chunk);
        writer.write(chunk).await?;
    }
    let written = writer.written();
    writer.finish().await?;
    if written != source_size {
        bail!("read {written} bytes of {source_size} from the source");
    }
    let sent = (written, md5.finalize().into());
    let there = to
        .stat(key)
        .await?
        .context("the copy is not there after it was written")?;
    if !holds(to, key, there, sent).await? {
        bail!(
            "the copy differs from the bytes sent ({} bytes of {written})",
            there.size
        );
    }
    Ok(BlobOutcome::Copied {
        damaged: source_size != size,
    })
}

/// Whether the blob `key` of `store`, which says `there` of it, has the bytes `expected`
/// describes. The store's MD5 is taken when it has one and agrees; otherwise the bytes are
/// read.
async fn holds(
    store: &BlobStore,
    key: &str,
    there: BlobStat,
    expected: Fingerprint,
) -> anyhow::Result<bool> {
    if there.size != expected.0 {
        return Ok(false);
    }
    if there.md5 == Some(expected.1) {
        return Ok(true);
    }
    Ok(fingerprint(store, key).await? == Some(expected))
}

/// The size and MD5 of a blob's bytes as read, or `None` when it does not exist.
async fn fingerprint(store: &BlobStore, key: &str) -> anyhow::Result<Option<Fingerprint>> {
    let Some(object) = store.get_if_exists(key).await? else {
        return Ok(None);
    };
    let mut md5 = Md5::new();
    let mut size = 0u64;
    let mut bytes = object.stream;
    while let Some(chunk) = bytes.try_next().await? {
        size += chunk.len() as u64;
        md5.update(&chunk);
    }
    Ok(Some((size, md5.finalize().into())))
}

/// A table's rows summed up: their count, and the sum of their hashes (a multiset hash: equal
/// for equal rows in any order).
#[derive(Debug, Default, PartialEq, Eq)]
struct TableDigest {
    rows: u64,
    sum: u128,
}

impl TableDigest {
    fn add(&mut self, row: &Row) {
        let mut hasher = Sha256::new();
        for cell in row {
            match cell {
                Cell::Null => hasher.update([0]),
                Cell::Int(n) => {
                    hasher.update([1]);
                    hasher.update(n.to_le_bytes());
                }
                Cell::Text(s) => {
                    hasher.update([2]);
                    hasher.update((s.len() as u64).to_le_bytes());
                    hasher.update(s.as_bytes());
                }
                Cell::Bytes(b) => {
                    hasher.update([3]);
                    hasher.update((b.len() as u64).to_le_bytes());
                    hasher.update(b);
                }
            }
        }
        let hash = hasher.finalize();
        let mut head = [0u8; 16];
        head.copy_from_slice(&hash[..16]);
        self.rows += 1;
        self.sum = self.sum.wrapping_add(u128::from_le_bytes(head));
    }
}

async fn digest(
    catalog: &RawCatalog,
    table: &Table,
    filter: Option<&Filter>,
) -> anyhow::Result<TableDigest> {
    let mut digest = TableDigest::default();
    let mut after: Option<Vec<Cell>> = None;
    loop {
        let page = catalog.read(table, filter, after.as_deref(), PAGE).await?;
        let Some(last) = page.last() else {
            return Ok(digest);
        };
        after = Some(table.key_of(last));
        page.iter().for_each(|row| digest.add(row));
    }
}

/// Both catalogs hold the same rows of every carried table.
async fn verify_catalog(
    source: &RawCatalog,
    destination: &RawCatalog,
    now: i64,
) -> anyhow::Result<()> {
    let mut differ = Vec::new();
    let mut deleted = false;
    for table in TABLES {
        let filter = carried(table, now);
        let (a, b) = (
            digest(source, table, filter.as_ref()).await?,
            digest(destination, table, filter.as_ref()).await?,
        );
        if a != b {
            deleted |= b.rows > a.rows;
            differ.push(format!(
                "{} ({} rows here, {} there)",
                table.name, a.rows, b.rows
            ));
        }
    }
    if differ.is_empty() {
        return Ok(());
    }
    let advice = if deleted {
        "rows were deleted from the library during the copy: start again into an empty \
         destination, with the library served read-only (folio serve --read-only)"
    } else {
        "the library was written to during the copy: serve it read-only (folio serve \
         --read-only) and run migrate-store again to catch up"
    };
    bail!(
        "the copy differs from the library in {}: {advice}",
        differ.join(", ")
    )
}

/// A progress bar on a terminal; elsewhere (a log, a test) a line each tenth of the way.
struct Progress {
    bar: ProgressBar,
    plain: Option<PlainProgress>,
}

struct PlainProgress {
    what: &'static str,
    total: u64,
    done: AtomicU64,
}

impl Progress {
    fn new(what: &'static str, total: u64, bytes: bool) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let bar = if terminal {
            ProgressBar::new(total)
        } else {
            ProgressBar::hidden()
        };
        let template = if bytes {
            "{prefix:>12} {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}"
        } else {
            "{prefix:>12} {wide_bar} {pos}/{len}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_prefix(what);
        Progress {
            bar,
            plain: (!terminal).then(|| PlainProgress {
                what,
                total,
                done: AtomicU64::new(0),
            }),
        }
    }

    fn add(&self, n: u64) {
        self.bar.inc(n);
        if let Some(plain) = &self.plain {
            let before = plain.done.fetch_add(n, Ordering::Relaxed);
            let tenth = |done: u64| done.saturating_mul(10) / plain.total.max(1);
            if tenth(before) < tenth(before + n) {
                eprintln!("folio: {} {}/{}", plain.what, before + n, plain.total);
            }
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The report as the terminal shows it.
pub fn summary(report: &Report) -> String {
    let mut out = String::new();
    let verb = if report.dry_run {
        "would copy"
    } else {
        "copied"
    };
    if !report.tables.is_empty() {
        out.push_str(&format!("{verb} catalog rows:\n"));
        for t in &report.tables {
            out.push_str(&format!("  {:<24}{:>10}\n", t.table, t.rows));
        }
        out.push_str(&format!(
            "  left behind: {} ledger entries of expired tokens, {} resumable uploads still \
             receiving\n",
            report.expired_tokens, report.receiving_uploads
        ));
    }
    let mut verified = Vec::new();
    if let Some(b) = &report.blobs {
        if report.dry_run {
            out.push_str(&format!(
                "{verb} {} blobs, {}\n",
                b.total,
                bytesize::ByteSize(b.bytes)
            ));
        } else {
            out.push_str(&format!(
                "blobs: {} of {} ({}): {} copied, {} already there, {} missing in the library\n",
                b.copied + b.already_there,
                b.total,
                bytesize::ByteSize(b.bytes),
                b.copied,
                b.already_there,
                b.missing.len()
            ));
            for key in &b.missing {
                out.push_str(&format!("  missing: {key}\n"));
            }
            for key in &b.damaged {
                out.push_str(&format!(
                    "  copied at a size other than the catalog's: {key}\n"
                ));
            }
            verified.push("every blob copied by size and MD5");
        }
    }
    if !report.dry_run && !report.tables.is_empty() {
        verified.push("every table by row count and digest");
    }
    if !verified.is_empty() {
        out.push_str(&format!("verified: {}\n", verified.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, n: i64) -> Row {
        vec![Cell::Text(id.into()), Cell::Int(n), Cell::Null]
    }

    #[test]
    fn a_digest_ignores_order_and_sees_every_value() {
        let mut a = TableDigest::default();
        let mut b = TableDigest::default();
        a.add(&row("x", 1));
        a.add(&row("y", 2));
        b.add(&row("y", 2));
        b.add(&row("x", 1));
        assert_eq!(a, b);
        let mut c = TableDigest::default();
        c.add(&row("x", 1));
        c.add(&row("y", 3));
        assert_ne!(a, c);
        // A value moved to the next cell is another row.
        let mut d = TableDigest::default();
        d.add(&vec![Cell::Text("ab".into()), Cell::Text(String::new())]);
        let mut e = TableDigest::default();
        e.add(&vec![Cell::Text("a".into()), Cell::Text("b".into())]);
        assert_ne!(d, e);
    }

    #[test]
    fn the_summary_speaks_only_of_what_moved() {
        let catalog_only = Report {
            tables: vec![TableRows {
                table: "files",
                rows: 3,
            }],
            ..Report::default()
        };
        let text = summary(&catalog_only);
        assert!(!text.contains("blob"), "{text}");
        assert!(
            text.ends_with("verified: every table by row count and digest\n"),
            "{text}"
        );
        let blobs_only = Report {
            blobs: Some(BlobTally {
                total: 2,
                bytes: 2048,
                copied: 1,
                already_there: 1,
                ..BlobTally::default()
            }),
            ..Report::default()
        };
        assert_eq!(
            summary(&blobs_only),
            "blobs: 2 of 2 (2.0 KiB): 1 copied, 1 already there, 0 missing in the library\n\
             verified: every blob copied by size and MD5\n"
        );
        let dry = Report {
            dry_run: true,
            ..blobs_only
        };
        assert_eq!(summary(&dry), "would copy 2 blobs, 2.0 KiB\n");
    }

    #[test]
    fn paths_spelt_two_ways_are_one_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let absolute = format!("file://{}", dir.path().display());
        let dotted = format!("file://{}/.", dir.path().display());
        assert!(same_store(&absolute, &dotted));
        assert!(!same_store(&absolute, "s3://bucket"));
        assert!(same_store("s3://bucket/p", "s3://bucket/p/"));
    }
}
