//! A consistent copy of an embedded catalog while its server runs (`folio backup`): SQLite's
//! `VACUUM INTO` reads one snapshot of the database (WAL readers never wait for the writer,
//! nor make it wait) and writes it, compacted, to a new file.

use std::path::Path;

use anyhow::Context;
use rusqlite::{Connection, OpenFlags};

/// How long the copy waits for a lock the writer holds (a checkpoint) before giving up.
const BUSY: std::time::Duration = std::time::Duration::from_secs(30);

/// Writes a snapshot of the catalog at `database` to `into` (which must not exist).
pub fn vacuum_into(database: &Path, into: &Path) -> anyhow::Result<()> {
    let conn = Connection::open_with_flags(database, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening {}", database.display()))?;
    conn.busy_timeout(BUSY)?;
    let target = into
        .to_str()
        .context("the backup folder's path is not UTF-8")?;
    conn.execute("VACUUM INTO ?1", [target])
        .with_context(|| format!("writing a snapshot of the catalog to {}", into.display()))?;
    Ok(())
}

/// Every blob the catalog at `database` refers to, with its size: what a copy of the library
/// must hold besides the catalog.
pub fn blobs(database: &Path) -> anyhow::Result<Vec<(String, u64)>> {
    let conn = Connection::open_with_flags(database, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening {}", database.display()))?;
    let mut statement =
        conn.prepare("SELECT blob_key, size FROM file_versions ORDER BY blob_key")?;
    let rows = statement.query_map([], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
    })?;
    rows.map(|row| {
        let (key, size) = row?;
        Ok((key, u64::try_from(size).unwrap_or_default()))
    })
    .collect()
}
