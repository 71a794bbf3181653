//! Rows as plain data, for copying a catalog to another database (`folio migrate-store`):
//! which tables a library is made of, their columns, and reading and writing them in key order
//! on either dialect. What to carry and how to check it is decided above, in
//! `crate::migrate_store`.
//!
//! Both dialects have the same tables and columns (the migrations keep them parallel); they
//! differ in types only: a flag is `INTEGER` 0/1 in SQLite and `BOOLEAN` in PostgreSQL, bytes
//! are `BLOB` or `BYTEA`. A [`Cell`] holds a flag as 0/1, so a row reads the same from both.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
};
use sqlx::Row as _;

use crate::config::PostgresConfig;

/// How a column is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    /// 0/1 in SQLite, `BOOLEAN` in PostgreSQL.
    Flag,
    Text,
    Bytes,
}

/// A table of the catalog: its columns (generated ones left out: the database computes them)
/// and the columns of its primary key, in which order it is read.
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    pub key: &'static [&'static str],
    pub columns: &'static [(&'static str, Kind)],
}

impl Table {
    fn key_positions(&self) -> Vec<usize> {
        self.key
            .iter()
            .filter_map(|k| self.columns.iter().position(|(c, _)| c == k))
            .collect()
    }

    /// The key of `row`, to read on after it.
    pub fn key_of(&self, row: &[Cell]) -> Vec<Cell> {
        self.key_positions()
            .into_iter()
            .filter_map(|i| row.get(i).cloned())
            .collect()
    }

    fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|(c, _)| *c)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

use Kind::{Bytes, Flag, Int, Text};

/// Every table of a library, parents before children (foreign keys hold at every step). A
/// test keeps this list equal to the migrations of both dialects: a table or column added
/// later fails it until it is listed here (or in [`DERIVED`]).
pub const TABLES: &[Table] = &[
    Table {
        name: "accounts",
        key: &["id"],
        columns: &[
            ("id", Text),
            ("url_id", Text),
            ("disabled", Flag),
            ("created_at", Int),
        ],
    },
    Table {
        name: "api_keys",
        key: &["public_key"],
        columns: &[
            ("public_key", Text),
            ("private_key", Text),
            ("private_key_hash", Bytes),
            ("account_id", Text),
            ("revoked", Flag),
            ("expires_at", Int),
            ("created_at", Int),
        ],
    },
    Table {
        name: "folders",
        key: &["account_id", "path"],
        columns: &[
            ("account_id", Text),
            ("path", Text),
            ("folder_id", Text),
            ("created_at", Int),
        ],
    },
    Table {
        name: "custom_metadata_fields",
        key: &["field_id"],
        columns: &[
            ("field_id", Text),
            ("account_id", Text),
            ("name", Text),
            ("label", Text),
            ("description", Text),
            ("schema", Text),
            ("deleted", Flag),
            ("created_at", Int),
        ],
    },
    Table {
        name: "files",
        key: &["file_id"],
        columns: &[
            ("file_id", Text),
            ("account_id", Text),
            ("file_path", Text),
            ("folder_path", Text),
            ("name", Text),
            ("current_version_id", Text),
            ("last_version_number", Int),
            ("created_at", Int),
            ("updated_at", Int),
        ],
    },
    Table {
        name: "file_versions",
        key: &["version_id"],
        columns: &[
            ("version_id", Text),
            ("file_id", Text),
            ("version_number", Int),
            ("blob_key", Text),
            ("size", Int),
            ("mime", Text),
            ("file_type", Text),
            ("width", Int),
            ("height", Int),
            ("tags", Text),
            ("ai_tags", Text),
            ("custom_metadata", Text),
            ("custom_coordinates", Text),
            ("is_private_file", Flag),
            ("is_published", Flag),
            ("description", Text),
            ("media", Text),
            ("created_at", Int),
            ("updated_at", Int),
        ],
    },
    Table {
        name: "burned_tokens",
        key: &["account_id", "token_hash"],
        columns: &[
            ("account_id", Text),
            ("token_hash", Bytes),
            ("expires_at", Int),
        ],
    },
    Table {
        name: "jobs",
        key: &["job_id"],
        columns: &[
            ("job_id", Text),
            ("account_id", Text),
            ("kind", Text),
            ("status", Text),
            ("params", Text),
            ("cursor", Text),
            ("purge_request_id", Text),
            ("depends_on", Text),
            ("lease_owner", Text),
            ("lease_until", Int),
            ("attempts", Int),
            ("created_at", Int),
            ("updated_at", Int),
            ("completed_at", Int),
        ],
    },
    Table {
        name: "webhook_endpoints",
        key: &["id"],
        columns: &[
            ("id", Text),
            ("account_id", Text),
            ("url", Text),
            ("events", Text),
            ("secret", Text),
            ("previous_secret", Text),
            ("previous_secret_until", Int),
            ("from_config", Flag),
            ("disabled_at", Int),
            ("disabled_reason", Text),
            ("created_at", Int),
        ],
    },
    Table {
        name: "deliveries",
        key: &["id"],
        columns: &[
            ("id", Int),
            ("message_id", Text),
            ("account_id", Text),
            ("kind", Text),
            ("event_type", Text),
            ("endpoint_id", Text),
            ("target", Text),
            ("key_id", Text),
            ("body", Text),
            ("state", Text),
            ("attempts", Int),
            ("next_attempt_at", Int),
            ("last_attempt_at", Int),
            ("last_status", Int),
            ("last_error", Text),
            ("created_at", Int),
            ("finished_at", Int),
        ],
    },
    Table {
        name: "resumable_uploads",
        key: &["id_hash"],
        columns: &[
            ("id_hash", Bytes),
            ("ledger_key", Bytes),
            ("account_id", Text),
            ("key_id", Text),
            ("fields", Text),
            ("metadata", Text),
            ("length", Int),
            ("upload_offset", Int),
            ("version_id", Text),
            ("storage", Text),
            ("state", Text),
            ("result_status", Int),
            ("result_body", Text),
            ("lease_token", Text),
            ("lease_until", Int),
            ("created_at", Int),
            ("expires_at", Int),
        ],
    },
];

/// Tables of a library that are not copied: `version_tags` is kept by triggers from
/// `file_versions`, `rate_counters` (PostgreSQL) holds seconds-long windows, console sign-ins
/// last hours (operators sign in again), and the rest is the databases' own bookkeeping.
pub const DERIVED: &[&str] = &[
    "version_tags",
    "rate_counters",
    "console_sessions",
    "_sqlx_migrations",
    "sqlite_sequence",
];

pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.name == name)
}

/// One value of a row; a flag is `Int` 0/1.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Cell {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

pub type Row = Vec<Cell>;

/// Which rows of a table to take: `column <op> value`, or all.
#[derive(Debug, Clone)]
pub struct Filter {
    pub column: &'static str,
    /// `>` or `<>`.
    pub op: &'static str,
    pub value: Cell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
        }
    }
}

/// `SELECT` of a page of `table` in key order: rows after `after` (a key) if given, meeting
/// `filter` if given. Returns the statement and the values to bind, in order.
fn select_page(
    dialect: Dialect,
    table: &Table,
    filter: Option<&Filter>,
    after: Option<&[Cell]>,
    limit: u32,
) -> (String, Vec<Cell>) {
    let mut conditions = Vec::new();
    let mut binds = Vec::new();
    if let Some(filter) = filter {
        binds.push(filter.value.clone());
        conditions.push(format!(
            "{} {} {}",
            filter.column,
            filter.op,
            dialect.placeholder(binds.len())
        ));
    }
    if let Some(after) = after {
        let mut marks = Vec::new();
        for cell in after {
            binds.push(cell.clone());
            marks.push(dialect.placeholder(binds.len()));
        }
        conditions.push(format!(
            "({}) > ({})",
            table.key.join(", "),
            marks.join(", ")
        ));
    }
    let mut sql = format!("SELECT {} FROM {}", table.column_list(), table.name);
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    sql.push_str(&format!(" ORDER BY {} LIMIT {limit}", table.key.join(", ")));
    (sql, binds)
}

/// `INSERT` of `rows` rows into `table`, each replacing the row of the same key: copying a
/// row twice (a resumed run) leaves one row, and a row changed in between is brought up to
/// date.
fn upsert(dialect: Dialect, table: &Table, rows: usize) -> String {
    let width = table.columns.len();
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let marks: Vec<String> = (1..=width)
                .map(|c| dialect.placeholder(r * width + c))
                .collect();
            format!("({})", marks.join(", "))
        })
        .collect();
    let updates: Vec<String> = table
        .columns
        .iter()
        .map(|(c, _)| *c)
        .filter(|c| !table.key.contains(c))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO {} ({}) VALUES {} ON CONFLICT ({}) DO UPDATE SET {}",
        table.name,
        table.column_list(),
        values.join(", "),
        table.key.join(", "),
        updates.join(", ")
    )
}

/// Rows written per statement: well below either database's limit on bound values.
pub const WRITE_BATCH: usize = 200;

/// A catalog database seen as tables of rows (no domain rules, no caches).
#[derive(Clone)]
pub enum RawCatalog {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl RawCatalog {
    /// The catalog at `url`. `create`: a missing SQLite file is created and either database's
    /// schema brought up to date (the destination of a copy); otherwise nothing is written,
    /// and `Ok(None)` says that an SQLite file does not exist.
    pub async fn open(
        url: &str,
        settings: &PostgresConfig,
        create: bool,
    ) -> anyhow::Result<Option<RawCatalog>> {
        if let Some(path) = super::sqlite::file_of(url) {
            if !create && !path.is_file() {
                return Ok(None);
            }
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            let options = SqliteConnectOptions::from_str("sqlite:")?
                .filename(&path)
                .create_if_missing(create)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true)
                .read_only(!create);
            let pool = SqlitePoolOptions::new()
                .max_connections(if create { 1 } else { 2 })
                .connect_with(options)
                .await
                .with_context(|| format!("opening {}", path.display()))?;
            if create {
                super::sqlite::migrator()
                    .run(&pool)
                    .await
                    .context("creating the SQLite catalog's schema")?;
            }
            Ok(Some(RawCatalog::Sqlite(pool)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options =
                PgConnectOptions::from_str(url).context("invalid postgres:// catalog URL")?;
            let pool = PgPoolOptions::new()
                .max_connections(settings.max_connections.clamp(1, 4))
                .acquire_timeout(Duration::from_secs(settings.acquire_timeout_secs.max(1)))
                .connect_with(options)
                .await
                .with_context(|| format!("connecting to {}", super::redact_url(url)))?;
            if create {
                super::postgres::migrator()
                    .run(&pool)
                    .await
                    .context("creating the PostgreSQL catalog's schema")?;
            }
            Ok(Some(RawCatalog::Postgres(pool)))
        } else {
            anyhow::bail!(
                "unsupported catalog URL (expected sqlite://… or postgres://…): {}",
                super::redact_url(url)
            )
        }
    }

    fn dialect(&self) -> Dialect {
        match self {
            RawCatalog::Sqlite(_) => Dialect::Sqlite,
            RawCatalog::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Whether `table` exists (a PostgreSQL schema before its first migration has none).
    pub async fn has_table(&self, table: &str) -> anyhow::Result<bool> {
        let found: i64 = match self {
            RawCatalog::Sqlite(pool) => {
                sqlx::query_scalar(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                )
                .bind(table)
                .fetch_one(pool)
                .await?
            }
            RawCatalog::Postgres(pool) => {
                sqlx::query_scalar(
                    "SELECT count(*) FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_name = $1",
                )
                .bind(table)
                .fetch_one(pool)
                .await?
            }
        };
        Ok(found > 0)
    }

    /// The columns `table` has in this database, generated ones left out.
    pub async fn columns(&self, table: &str) -> anyhow::Result<Vec<String>> {
        Ok(match self {
            RawCatalog::Sqlite(pool) => {
                // table_xinfo's `hidden` is 2 or 3 for a generated column.
                sqlx::query_scalar(
                    "SELECT name FROM pragma_table_xinfo(?1) WHERE hidden = 0 ORDER BY cid",
                )
                .bind(table)
                .fetch_all(pool)
                .await?
            }
            RawCatalog::Postgres(pool) => {
                sqlx::query_scalar(
                    "SELECT column_name::text FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name = $1 \
                       AND is_generated = 'NEVER' ORDER BY ordinal_position",
                )
                .bind(table)
                .fetch_all(pool)
                .await?
            }
        })
    }

    /// Every table this database holds.
    pub async fn table_names(&self) -> anyhow::Result<Vec<String>> {
        Ok(match self {
            RawCatalog::Sqlite(pool) => {
                sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .fetch_all(pool)
                    .await?
            }
            RawCatalog::Postgres(pool) => {
                sqlx::query_scalar(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
                )
                .fetch_all(pool)
                .await?
            }
        })
    }

    /// How many rows of `table` meet `filter`.
    pub async fn count(&self, table: &Table, filter: Option<&Filter>) -> anyhow::Result<u64> {
        let dialect = self.dialect();
        let mut sql = format!("SELECT count(*) FROM {}", table.name);
        let mut binds = Vec::new();
        if let Some(filter) = filter {
            sql.push_str(&format!(
                " WHERE {} {} {}",
                filter.column,
                filter.op,
                dialect.placeholder(1)
            ));
            binds.push((filter.value.clone(), kind_of(table, filter.column)));
        }
        let n: i64 = match self {
            RawCatalog::Sqlite(pool) => {
                let mut query = sqlx::query(&sql);
                for (cell, kind) in binds {
                    query = bind_sqlite(query, cell, kind);
                }
                query.fetch_one(pool).await?.try_get(0)?
            }
            RawCatalog::Postgres(pool) => {
                let mut query = sqlx::query(&sql);
                for (cell, kind) in binds {
                    query = bind_pg(query, cell, kind);
                }
                query.fetch_one(pool).await?.try_get(0)?
            }
        };
        Ok(u64::try_from(n).unwrap_or_default())
    }

    /// Up to `limit` rows of `table` in key order, after the key `after`, meeting `filter`.
    pub async fn read(
        &self,
        table: &Table,
        filter: Option<&Filter>,
        after: Option<&[Cell]>,
        limit: u32,
    ) -> anyhow::Result<Vec<Row>> {
        let (sql, binds) = select_page(self.dialect(), table, filter, after, limit);
        let kinds = bind_kinds(table, filter, after.is_some());
        let read = match self {
            RawCatalog::Sqlite(pool) => {
                let mut query = sqlx::query(&sql);
                for (cell, kind) in binds.into_iter().zip(kinds) {
                    query = bind_sqlite(query, cell, kind);
                }
                let rows = query.fetch_all(pool).await?;
                rows.iter()
                    .map(|row| sqlite_row(table, row))
                    .collect::<anyhow::Result<Vec<Row>>>()
            }
            RawCatalog::Postgres(pool) => {
                let mut query = sqlx::query(&sql);
                for (cell, kind) in binds.into_iter().zip(kinds) {
                    query = bind_pg(query, cell, kind);
                }
                let rows = query.fetch_all(pool).await?;
                rows.iter()
                    .map(|row| pg_row(table, row))
                    .collect::<anyhow::Result<Vec<Row>>>()
            }
        };
        read.with_context(|| format!("reading {}", table.name))
    }

    /// Writes `rows` into `table` in one transaction, each replacing the row of its key.
    pub async fn upsert(&self, table: &Table, rows: &[Row]) -> anyhow::Result<()> {
        let kinds: Vec<Kind> = table.columns.iter().map(|(_, k)| *k).collect();
        match self {
            RawCatalog::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                for chunk in rows.chunks(WRITE_BATCH) {
                    let sql = upsert(Dialect::Sqlite, table, chunk.len());
                    let mut query = sqlx::query(&sql);
                    for row in chunk {
                        for (cell, kind) in row.iter().zip(&kinds) {
                            query = bind_sqlite(query, cell.clone(), *kind);
                        }
                    }
                    query.execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
            RawCatalog::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                for chunk in rows.chunks(WRITE_BATCH) {
                    let sql = upsert(Dialect::Postgres, table, chunk.len());
                    let mut query = sqlx::query(&sql);
                    for row in chunk {
                        for (cell, kind) in row.iter().zip(&kinds) {
                            query = bind_pg(query, cell.clone(), *kind);
                        }
                    }
                    query.execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// What a table needs once its rows were written with their own ids: PostgreSQL's
    /// `deliveries` sequence must continue after the highest id copied (SQLite's AUTOINCREMENT
    /// follows explicit ids by itself).
    pub async fn after_copy(&self, table: &Table) -> anyhow::Result<()> {
        if let (RawCatalog::Postgres(pool), "deliveries") = (self, table.name) {
            sqlx::query(
                "SELECT setval(pg_get_serial_sequence('deliveries', 'id'), \
                 COALESCE(MAX(id), 0) + 1, false) FROM deliveries",
            )
            .execute(pool)
            .await?;
        }
        Ok(())
    }

    /// Up to `limit` versions' blob keys and sizes, in key order after `after`.
    pub async fn blobs_after(&self, after: &str, limit: u32) -> anyhow::Result<Vec<(String, u64)>> {
        let rows: Vec<(String, i64)> = match self {
            RawCatalog::Sqlite(pool) => {
                sqlx::query_as(
                    "SELECT blob_key, size FROM file_versions WHERE blob_key > ?1 \
                     ORDER BY blob_key LIMIT ?2",
                )
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
            }
            RawCatalog::Postgres(pool) => {
                sqlx::query_as(
                    "SELECT blob_key, size FROM file_versions WHERE blob_key > $1 \
                     ORDER BY blob_key LIMIT $2",
                )
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
            }
        };
        Ok(rows
            .into_iter()
            .map(|(key, size)| (key, u64::try_from(size).unwrap_or_default()))
            .collect())
    }

    pub async fn close(&self) {
        match self {
            RawCatalog::Sqlite(pool) => pool.close().await,
            RawCatalog::Postgres(pool) => pool.close().await,
        }
    }
}

fn kind_of(table: &Table, column: &str) -> Kind {
    table
        .columns
        .iter()
        .find(|(c, _)| *c == column)
        .map_or(Text, |(_, k)| *k)
}

/// The kinds of the values [`select_page`] binds, in order.
fn bind_kinds(table: &Table, filter: Option<&Filter>, after: bool) -> Vec<Kind> {
    let mut kinds: Vec<Kind> = filter
        .map(|f| kind_of(table, f.column))
        .into_iter()
        .collect();
    if after {
        kinds.extend(table.key.iter().map(|k| kind_of(table, k)));
    }
    kinds
}

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;
type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

fn bind_sqlite(query: SqliteQuery<'_>, cell: Cell, kind: Kind) -> SqliteQuery<'_> {
    match (cell, kind) {
        (Cell::Int(n), _) => query.bind(n),
        (Cell::Text(s), _) => query.bind(s),
        (Cell::Bytes(b), _) => query.bind(b),
        (Cell::Null, Int | Flag) => query.bind(None::<i64>),
        (Cell::Null, Text) => query.bind(None::<String>),
        (Cell::Null, Bytes) => query.bind(None::<Vec<u8>>),
    }
}

/// PostgreSQL types every parameter, so a NULL is bound as its column's type and a flag as a
/// boolean.
fn bind_pg(query: PgQuery<'_>, cell: Cell, kind: Kind) -> PgQuery<'_> {
    match (cell, kind) {
        (Cell::Int(n), Flag) => query.bind(n != 0),
        (Cell::Int(n), _) => query.bind(n),
        (Cell::Text(s), _) => query.bind(s),
        (Cell::Bytes(b), _) => query.bind(b),
        (Cell::Null, Int) => query.bind(None::<i64>),
        (Cell::Null, Flag) => query.bind(None::<bool>),
        (Cell::Null, Text) => query.bind(None::<String>),
        (Cell::Null, Bytes) => query.bind(None::<Vec<u8>>),
    }
}

fn cell<T>(value: Option<T>, wrap: impl FnOnce(T) -> Cell) -> Cell {
    value.map_or(Cell::Null, wrap)
}

fn sqlite_row(table: &Table, row: &SqliteRow) -> anyhow::Result<Row> {
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| {
            Ok(match kind {
                Int | Flag => cell(row.try_get::<Option<i64>, _>(i)?, Cell::Int),
                Text => cell(row.try_get::<Option<String>, _>(i)?, Cell::Text),
                Bytes => cell(row.try_get::<Option<Vec<u8>>, _>(i)?, Cell::Bytes),
            })
        })
        .collect()
}

fn pg_row(table: &Table, row: &PgRow) -> anyhow::Result<Row> {
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| {
            Ok(match kind {
                Int => cell(row.try_get::<Option<i64>, _>(i)?, Cell::Int),
                Flag => cell(row.try_get::<Option<bool>, _>(i)?, |b| {
                    Cell::Int(i64::from(b))
                }),
                Text => cell(row.try_get::<Option<String>, _>(i)?, Cell::Text),
                Bytes => cell(row.try_get::<Option<Vec<u8>>, _>(i)?, Cell::Bytes),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_read_in_key_order_after_the_last_key() {
        let files = table("folders").expect("folders");
        let filter = Filter {
            column: "created_at",
            op: ">",
            value: Cell::Int(5),
        };
        let after = [Cell::Text("a".into()), Cell::Text("/x/".into())];
        let (sql, binds) = select_page(Dialect::Postgres, files, Some(&filter), Some(&after), 100);
        assert_eq!(
            sql,
            "SELECT account_id, path, folder_id, created_at FROM folders \
             WHERE created_at > $1 AND (account_id, path) > ($2, $3) \
             ORDER BY account_id, path LIMIT 100"
        );
        assert_eq!(binds.len(), 3);
        let (sql, binds) = select_page(Dialect::Sqlite, files, None, None, 7);
        assert_eq!(
            sql,
            "SELECT account_id, path, folder_id, created_at FROM folders \
             ORDER BY account_id, path LIMIT 7"
        );
        assert!(binds.is_empty());
    }

    #[test]
    fn an_upsert_replaces_every_column_but_the_key() {
        let sql = upsert(Dialect::Sqlite, table("burned_tokens").expect("table"), 2);
        assert_eq!(
            sql,
            "INSERT INTO burned_tokens (account_id, token_hash, expires_at) \
             VALUES (?1, ?2, ?3), (?4, ?5, ?6) ON CONFLICT (account_id, token_hash) \
             DO UPDATE SET expires_at = excluded.expires_at"
        );
    }

    /// The list of tables and columns is the migrations' (both dialects).
    async fn assert_tables_match(catalog: &RawCatalog) {
        let mut names = catalog.table_names().await.expect("tables");
        names.retain(|n| !DERIVED.contains(&n.as_str()));
        names.sort();
        let mut listed: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
        listed.sort_unstable();
        assert_eq!(names, listed, "tables of the migrations vs TABLES");
        for table in TABLES {
            let columns = catalog.columns(table.name).await.expect("columns");
            let listed: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
            assert_eq!(columns, listed, "columns of {}", table.name);
            for key in table.key {
                assert!(listed.contains(key), "{}: key {key}", table.name);
            }
        }
    }

    #[tokio::test]
    async fn the_table_list_is_the_sqlite_schema() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("c.db").display());
        let settings = PostgresConfig::default();
        assert!(RawCatalog::open(&url, &settings, false)
            .await
            .expect("open")
            .is_none());
        let catalog = RawCatalog::open(&url, &settings, true)
            .await
            .expect("open")
            .expect("created");
        assert_tables_match(&catalog).await;
    }

    #[tokio::test]
    async fn the_table_list_is_the_postgres_schema() {
        let schema = crate::store::testing::TestSchema::create()
            .await
            .expect("schema");
        let catalog = RawCatalog::open(&schema.url(), &PostgresConfig::default(), true)
            .await
            .expect("open")
            .expect("created");
        assert_tables_match(&catalog).await;
        catalog.close().await;
    }
}
