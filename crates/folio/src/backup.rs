//! `folio backup DIR` and `folio restore DIR` for the embedded default (SQLite catalog and
//! local blobs), consistent while the server runs.
//!
//! A backup is a snapshot of the catalog (`VACUUM INTO`: every upload acknowledged before it
//! began is in it) and then a copy of every blob that snapshot refers to. Blobs are never
//! changed once written, so copying them after the snapshot is consistent; one deleted in
//! between (its file deleted after the backup began) is reported and left out. A restore puts
//! both into an empty data folder. PostgreSQL + S3 libraries are backed up with their own
//! tools (docs/deploy.md).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::store::blob::is_version_blob_key;

const CATALOG_FILE: &str = "folio.db";
const BLOBS_DIR: &str = "blobs";
const MANIFEST_FILE: &str = "folio-backup.json";

/// What a backup holds, written last: a folder without it is not a finished backup.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub format: u32,
    pub created_at_ms: i64,
    /// Blobs copied, and their bytes.
    pub blobs: u64,
    pub bytes: u64,
    /// Blobs the snapshot refers to that were gone when their turn came (their files were
    /// deleted after the backup began).
    pub missing: Vec<String>,
}

/// The catalog file and blob folder of an embedded library, or why this is not one.
fn embedded(config: &Config) -> anyhow::Result<(PathBuf, PathBuf)> {
    let catalog = crate::store::sqlite::file_of(&config.catalog_url());
    let blobs = config
        .blobs_url()
        .strip_prefix("file://")
        .map(PathBuf::from);
    match (catalog, blobs) {
        (Some(catalog), Some(blobs)) => Ok((catalog, blobs)),
        _ => bail!(
            "folio backup and restore cover the embedded default (SQLite catalog, local blobs); \
             back up PostgreSQL with pg_dump and S3 with the bucket's versioning or replication \
             (docs/deploy.md, \"Backups\")"
        ),
    }
}

/// A folder that is absent or empty: a backup or a restore never mixes with what is there.
fn ensure_empty(dir: &Path, what: &str) -> anyhow::Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!("{what} {} is not empty", dir.display());
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("reading {}", dir.display())),
    }
}

/// Copies `key` from the blob folder `from` to `to`, checking its size; `Ok(false)` when the
/// source is gone.
fn copy_blob(from: &Path, to: &Path, key: &str, size: u64) -> anyhow::Result<bool> {
    if !is_version_blob_key(key) {
        bail!("the catalog names an unexpected blob key {key:?}");
    }
    let source = from.join(key);
    let target = to.join(key);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let copied = match std::fs::copy(&source, &target) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e).with_context(|| format!("copying {}", source.display())),
    };
    if copied != size {
        bail!("{key}: copied {copied} bytes, the catalog says {size}");
    }
    Ok(true)
}

/// Backs the library of `config` up into `dir` (absent or empty).
pub fn backup(config: &Config, dir: &Path) -> anyhow::Result<Manifest> {
    let (catalog, blobs) = embedded(config)?;
    if !catalog.is_file() {
        bail!("no library at {}", catalog.display());
    }
    ensure_empty(dir, "the backup folder")?;
    std::fs::create_dir_all(dir.join(BLOBS_DIR))?;
    let snapshot = dir.join(CATALOG_FILE);
    crate::store::sqlite::snapshot::vacuum_into(&catalog, &snapshot)?;
    let mut manifest = Manifest {
        format: 1,
        created_at_ms: crate::ids::now_millis(),
        blobs: 0,
        bytes: 0,
        missing: Vec::new(),
    };
    for (key, size) in crate::store::sqlite::snapshot::blobs(&snapshot)? {
        if copy_blob(&blobs, &dir.join(BLOBS_DIR), &key, size)? {
            manifest.blobs += 1;
            manifest.bytes += size;
        } else {
            manifest.missing.push(key);
        }
    }
    write_synced(
        &dir.join(MANIFEST_FILE),
        &serde_json::to_vec_pretty(&manifest)?,
    )?;
    Ok(manifest)
}

/// Restores the backup in `dir` into the (absent or empty) library of `config`.
pub fn restore(config: &Config, dir: &Path) -> anyhow::Result<Manifest> {
    let (catalog, blobs) = embedded(config)?;
    let manifest: Manifest = serde_json::from_slice(
        &std::fs::read(dir.join(MANIFEST_FILE))
            .with_context(|| format!("{} holds no finished backup", dir.display()))?,
    )
    .context("reading the backup's manifest")?;
    if catalog.exists() {
        bail!(
            "a library exists at {}: restore into an empty data folder",
            catalog.display()
        );
    }
    ensure_empty(&blobs, "the blob folder")?;
    let snapshot = dir.join(CATALOG_FILE);
    let mut restored = 0;
    for (key, size) in crate::store::sqlite::snapshot::blobs(&snapshot)? {
        if manifest.missing.contains(&key) {
            continue;
        }
        if !copy_blob(&dir.join(BLOBS_DIR), &blobs, &key, size)? {
            bail!("the backup lacks the blob {key}");
        }
        restored += 1;
    }
    if restored != manifest.blobs {
        bail!(
            "restored {restored} blobs, the backup holds {}",
            manifest.blobs
        );
    }
    // The catalog last: a restore cut short leaves no library that lacks blobs.
    if let Some(parent) = catalog.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let partial = catalog.with_extension("db.restoring");
    std::fs::copy(&snapshot, &partial)?;
    std::fs::File::open(&partial)?.sync_all()?;
    std::fs::rename(&partial, &catalog)?;
    Ok(manifest)
}

fn write_synced(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}
