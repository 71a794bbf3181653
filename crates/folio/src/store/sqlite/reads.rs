//! The upload path's reads of the embedded catalog, run where they are asked for.
//!
//! Every upload looks up its key and its account's custom metadata fields. Each is a lookup by
//! an index that SQLite answers in microseconds from its page cache, less than a hop to a
//! worker thread and back costs; so they run inline, on a connection taken from a small pool.
//! In WAL mode a reader never waits for the writer, so this does not block the runtime thread
//! for longer than the lookup itself.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use super::super::resumable::{self, ResumableUpload};
use super::super::rows::{field_from_row, key_from_row, FIELD_COLUMNS, KEY_COLUMNS};
use super::super::{CustomField, KeyWithAccount};

/// Idle connections kept; more are opened while many lookups overlap, and closed after.
const KEEP_IDLE: usize = 4;

pub(super) struct Reads {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// The statements' text, made once (each lookup only finds it in the connection's cache).
    key_by_public: String,
    key_by_private_hash: String,
    custom_fields: String,
    resumable: String,
}

impl Reads {
    pub(super) fn new(path: &Path) -> Self {
        let key_where = |filter: &str| {
            format!(
                "SELECT {KEY_COLUMNS} FROM api_keys k JOIN accounts a ON a.id = k.account_id {filter}"
            )
        };
        Reads {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
            key_by_public: key_where("WHERE k.public_key = ?"),
            key_by_private_hash: key_where("WHERE k.private_key_hash = ?"),
            custom_fields: format!(
                "SELECT {FIELD_COLUMNS} FROM custom_metadata_fields \
                 WHERE account_id = ? AND (? OR deleted = 0) \
                 ORDER BY created_at, field_id"
            ),
            resumable: resumable::by_id_hash(),
        }
    }

    /// Runs `read` on an idle connection (or a new one), then keeps it for the next.
    fn with<T>(&self, read: impl FnOnce(&Connection) -> anyhow::Result<T>) -> anyhow::Result<T> {
        // A poisoned lock only means another reader panicked; the list of connections is
        // still whole.
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.open()?,
        };
        let result = read(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < KEEP_IDLE {
            idle.push(conn);
        }
        result
    }

    fn open(&self) -> anyhow::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)
            .with_context(|| format!("opening {}", self.path.display()))?;
        conn.busy_timeout(super::writer::BUSY_TIMEOUT)?;
        Ok(conn)
    }

    fn key(
        &self,
        sql: &str,
        value: &dyn rusqlite::ToSql,
    ) -> anyhow::Result<Option<KeyWithAccount>> {
        self.with(|conn| {
            conn.prepare_cached(sql)?
                .query_row([value], |row| Ok(key_from_row(row)))
                .optional()?
                .transpose()
        })
    }

    pub(super) fn key_by_public(&self, public_key: &str) -> anyhow::Result<Option<KeyWithAccount>> {
        self.key(&self.key_by_public, &public_key)
    }

    pub(super) fn key_by_private_hash(
        &self,
        hash: &[u8],
    ) -> anyhow::Result<Option<KeyWithAccount>> {
        self.key(&self.key_by_private_hash, &hash)
    }

    pub(super) fn custom_fields(
        &self,
        account_id: &str,
        include_deleted: bool,
    ) -> anyhow::Result<Vec<CustomField>> {
        self.with(|conn| {
            let mut statement = conn.prepare_cached(&self.custom_fields)?;
            let rows = statement.query_map(params![account_id, include_deleted], |row| {
                Ok(field_from_row(row))
            })?;
            rows.map(|row| row?).collect()
        })
    }

    /// A resumable upload, read by every request of its protocol.
    pub(super) fn resumable(&self, id_hash: &[u8]) -> anyhow::Result<Option<ResumableUpload>> {
        self.with(|conn| {
            conn.prepare_cached(&self.resumable)?
                .query_row([id_hash], |row| Ok(resumable::from_row(row)))
                .optional()?
                .transpose()
        })
    }
}
