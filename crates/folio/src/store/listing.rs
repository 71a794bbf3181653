//! The list/search query of `GET /v1/files` (spec §8.9, media-api §3) as the catalog runs it:
//! [`ListQuery`] (typed parameters, the parsed `searchQuery`) and [`compile`], a pure function
//! from it to one SQL statement with bind values, for either dialect.
//!
//! Shape of the statement: one `SELECT` per kind of item that can match (current files,
//! non-current versions, folders), each `WHERE account = ? AND <predicate>`, glued with
//! `UNION ALL` only when more than one kind is in play, then `ORDER BY <sort>, <id>` and
//! `LIMIT/OFFSET`. Predicates are folded per kind at compile time (a `type` condition, or a
//! field a kind lacks, is a constant), so a kind whose predicate is false is not queried at
//! all, and the common single-kind query orders and filters directly on indexed columns:
//!
//! * `files (account_id, folder_path, created_at, file_id)`, `(account_id, folder_path, name)`,
//!   `(account_id, created_at, file_id)`, `(account_id, updated_at, file_id)`,
//!   `(account_id, name COLLATE binary/"C")`, `(current_version_id)`;
//! * `file_versions (size)`, `(width)`, `(height)`;
//! * `version_tags (account_id, tag, version_id)` — one row per tag and AI tag name of a
//!   version, kept by triggers on `file_versions` (migration 0004), for `tags IN [...]`;
//! * `folders (account_id, parent_path, name)` on generated columns.
//!
//! A name or path prefix (`:`) is a half-open range `[p, succ(p))` on the column, which an index
//! serves (byte order: SQLite's BINARY, PostgreSQL's `COLLATE "C"`); `HAS`, custom and embedded
//! metadata are row filters inside the account's index range. Nothing is filtered in memory.

use folio_contract::search::{Cmp, Condition, Expr, Field, Op, SearchQuery, Value};
use folio_contract::CustomFieldType;

/// `type` of the list API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListType {
    File,
    FileVersion,
    Folder,
    /// Files and folders, no versions.
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Name,
    Created,
    Updated,
    Height,
    Width,
    Size,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

/// `fileType` of the list API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileTypeFilter {
    All,
    Image,
    NonImage,
}

/// A validated list request. Without `search`, `list_type`, `tags` and `name` select; with it,
/// they are ignored (spec §8.9) and the query's `type` conditions pick the kinds.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub list_type: ListType,
    pub sort: Sort,
    /// Canonical folder path (`/a/b/`): items directly in that folder only.
    pub path: Option<String>,
    pub file_type: FileTypeFilter,
    /// Legacy filter: files having any of these tags (or AI tags).
    pub tags: Option<Vec<String>>,
    /// Legacy filter: files with exactly this name.
    pub name: Option<String>,
    pub search: Option<SearchQuery>,
    /// Folders too, besides what `type` / the search select.
    pub include_folder: bool,
    /// 1..=1000.
    pub limit: u32,
    pub skip: u64,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            list_type: ListType::File,
            sort: Sort {
                key: SortKey::Created,
                descending: false,
            },
            path: None,
            file_type: FileTypeFilter::All,
            tags: None,
            name: None,
            search: None,
            include_folder: false,
            limit: 1000,
            skip: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    Text(String),
    Int(i64),
    Real(f64),
}

/// A statement and its bind values, in placeholder order.
#[derive(Debug, Clone, PartialEq)]
pub struct Sql {
    pub text: String,
    pub binds: Vec<Bind>,
}

/// The three kinds of list items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Version,
    Folder,
}

impl Kind {
    pub fn type_name(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Version => "file-version",
            Kind::Folder => "folder",
        }
    }
}

/// Columns every branch yields, in this order (folders give NULL for the version columns).
pub const LIST_COLUMNS: [&str; 24] = [
    "kind",
    "item_id",
    "version_id",
    "version_number",
    "name",
    "file_path",
    "blob_key",
    "size",
    "width",
    "height",
    "tags",
    "ai_tags",
    "custom_metadata",
    "custom_coordinates",
    "is_private_file",
    "is_published",
    "description",
    "media",
    "created_at",
    "updated_at",
    "version_created_at",
    "version_updated_at",
    "file_created_at",
    "file_updated_at",
];

/// A predicate under construction: constants fold away.
#[derive(Debug, Clone, PartialEq)]
enum Pred {
    True,
    False,
    Sql(String),
}

impl Pred {
    fn and(parts: Vec<Pred>) -> Pred {
        let mut sql = Vec::new();
        for p in parts {
            match p {
                Pred::False => return Pred::False,
                Pred::True => {}
                Pred::Sql(s) => sql.push(s),
            }
        }
        match sql.len() {
            0 => Pred::True,
            1 => Pred::Sql(sql.pop().unwrap_or_default()),
            _ => Pred::Sql(format!("({})", sql.join(" AND "))),
        }
    }

    fn or(parts: Vec<Pred>) -> Pred {
        let mut sql = Vec::new();
        for p in parts {
            match p {
                Pred::True => return Pred::True,
                Pred::False => {}
                Pred::Sql(s) => sql.push(s),
            }
        }
        match sql.len() {
            0 => Pred::False,
            1 => Pred::Sql(sql.pop().unwrap_or_default()),
            _ => Pred::Sql(format!("({})", sql.join(" OR "))),
        }
    }

    fn constant(value: bool) -> Pred {
        if value {
            Pred::True
        } else {
            Pred::False
        }
    }
}

/// Placeholder markers: control characters that no SQL text of ours contains (every value
/// from the request is a bind, never spliced).
const MARK_OPEN: char = '\u{1}';
const MARK_CLOSE: char = '\u{2}';

struct Builder {
    dialect: Dialect,
    hints: Hints,
    binds: Vec<Bind>,
}

/// What the backend knows about the data that the query alone does not say; it only changes
/// the statement's shape (the plan), never its result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hints {
    /// Every tag a `tags IN` of the query asks for is on few versions
    /// ([`RARE_TAG_ROWS`] `version_tags` rows at most, all together).
    pub rare_tags: bool,
}

/// Below this many `version_tags` rows, the tags a query asks for are few enough to drive the
/// query from them (fetch their versions, sort them) rather than walk the sort order's index.
pub const RARE_TAG_ROWS: i64 = 2000;

/// The tags the query looks for with a positive `tags IN` (searched or the legacy `tags`
/// filter): the backend counts their rows to fill [`Hints::rare_tags`].
pub fn positive_tags(q: &ListQuery) -> Vec<String> {
    fn walk(e: &Expr, out: &mut Vec<String>) {
        match e {
            Expr::And(parts) | Expr::Or(parts) => parts.iter().for_each(|p| walk(p, out)),
            Expr::Cond(c) => {
                if let (
                    Field::Tags,
                    Op::In {
                        negated: false,
                        values,
                    },
                ) = (&c.field, &c.op)
                {
                    out.extend(values.iter().map(value_text));
                }
            }
        }
    }
    let mut out = Vec::new();
    match &q.search {
        Some(search) => walk(&search.expr, &mut out),
        None => out.extend(q.tags.iter().flatten().cloned()),
    }
    out
}

impl Builder {
    /// A placeholder for a new bind value: a marker naming the value, numbered into `?` or
    /// `$n` only once the whole statement is built ([`Builder::finish`]). Constant folding drops
    /// SQL text together with the markers in it, so a value whose condition folded away is
    /// never bound, and the rest keep their order.
    fn bind(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("{MARK_OPEN}{}{MARK_CLOSE}", self.binds.len() - 1)
    }

    /// Numbers the markers of `text` in order of appearance and lists their values likewise.
    fn finish(self, text: &str) -> Sql {
        let mut out = String::with_capacity(text.len());
        let mut binds = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find(MARK_OPEN) {
            out.push_str(&rest[..open]);
            let after = &rest[open + MARK_OPEN.len_utf8()..];
            let close = after.find(MARK_CLOSE).unwrap_or(after.len());
            let index: usize = after[..close].parse().unwrap_or(usize::MAX);
            if let Some(value) = self.binds.get(index) {
                binds.push(value.clone());
            }
            match self.dialect {
                Dialect::Sqlite => out.push('?'),
                Dialect::Postgres => out.push_str(&format!("${}", binds.len())),
            }
            rest = after
                .get(close + MARK_CLOSE.len_utf8()..)
                .unwrap_or_default();
        }
        out.push_str(rest);
        Sql { text: out, binds }
    }

    fn text(&mut self, value: &str) -> String {
        self.bind(Bind::Text(value.to_owned()))
    }

    fn int(&mut self, value: i64) -> String {
        self.bind(Bind::Int(value))
    }

    fn real(&mut self, value: f64) -> String {
        let p = self.bind(Bind::Real(value));
        match self.dialect {
            Dialect::Sqlite => p,
            Dialect::Postgres => format!("{p}::float8"),
        }
    }

    fn pg(&self) -> bool {
        self.dialect == Dialect::Postgres
    }

    /// Byte-order collation for range comparisons (`COLLATE "C"` matches the index).
    fn bytewise(&self, column: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => column.to_owned(),
            Dialect::Postgres => format!("{column} COLLATE \"C\""),
        }
    }

    /// `column` starts with `prefix`, as an index range.
    fn prefix(&mut self, column: &str, prefix: &str) -> Pred {
        if prefix.is_empty() {
            return Pred::True;
        }
        let col = self.bytewise(column);
        let low = self.text(prefix);
        match successor(prefix) {
            Some(high) => {
                let high = self.text(&high);
                Pred::Sql(format!("({col} >= {low} AND {col} < {high})"))
            }
            None => Pred::Sql(format!("{col} >= {low}")),
        }
    }
}

/// The least string greater than every string that starts with `prefix` (code point order,
/// which is UTF-8 byte order): the last character incremented, dropping trailing U+10FFFF.
/// `None` when there is none (all U+10FFFF).
pub fn successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last as u32 + 1 {
            0xD800 => Some('\u{E000}'),
            n => char::from_u32(n),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Which kinds are queried.
fn kinds(q: &ListQuery) -> Vec<Kind> {
    let mut kinds = Vec::new();
    match &q.search {
        Some(search) => {
            // The default universe is current files (`type` defaults to `file`); a `type`
            // condition that can hold for versions or folders brings them in.
            kinds.push(Kind::File);
            for kind in [Kind::Version, Kind::Folder] {
                let admitted = search.mentions(|f| *f == Field::Type)
                    && type_conditions_admit(&search.expr, kind);
                if admitted || (kind == Kind::Folder && q.include_folder) {
                    kinds.push(kind);
                }
            }
        }
        None => match q.list_type {
            ListType::File => {
                kinds.push(Kind::File);
                if q.include_folder {
                    kinds.push(Kind::Folder);
                }
            }
            ListType::FileVersion => kinds.push(Kind::Version),
            ListType::Folder => kinds.push(Kind::Folder),
            ListType::All => kinds.extend([Kind::File, Kind::Folder]),
        },
    }
    if q.file_type != FileTypeFilter::All {
        kinds.retain(|k| *k != Kind::Folder);
    }
    kinds
}

/// Whether some `type` condition of the query holds for `kind`.
fn type_conditions_admit(expr: &Expr, kind: Kind) -> bool {
    match expr {
        Expr::And(c) | Expr::Or(c) => c.iter().any(|e| type_conditions_admit(e, kind)),
        Expr::Cond(Condition {
            field: Field::Type,
            op,
        }) => type_holds(op, kind),
        Expr::Cond(_) => false,
    }
}

fn type_holds(op: &Op, kind: Kind) -> bool {
    let is = |v: &Value| matches!(v, Value::Str(s) if s == kind.type_name());
    match op {
        Op::Cmp(Cmp::Eq, v) => is(v),
        Op::Cmp(Cmp::Ne, v) => !is(v),
        Op::In { negated, values } => values.iter().any(is) != *negated,
        _ => false,
    }
}

/// The statement listing `q` for `account_id`.
pub fn compile(q: &ListQuery, account_id: &str, dialect: Dialect) -> Sql {
    compile_with(q, account_id, dialect, Hints::default())
}

/// [`compile`], with what the backend knows about the data.
pub fn compile_with(q: &ListQuery, account_id: &str, dialect: Dialect, hints: Hints) -> Sql {
    let mut b = Builder {
        dialect,
        hints,
        binds: Vec::new(),
    };
    let mut branches = Vec::new();
    for kind in kinds(q) {
        if let Some(branch) = branch(&mut b, q, kind, account_id) {
            branches.push(branch);
        }
    }
    let direction = if q.sort.descending { "DESC" } else { "ASC" };
    let mut text = if branches.is_empty() {
        // Nothing can match: a statement of the same shape that yields no row.
        let mut sql = select_list(&b, Kind::Folder);
        sql.push_str(" FROM folders d WHERE 1 = 0");
        sql
    } else if branches.len() == 1 {
        let branch = branches.remove(0);
        let kind = branch.kind;
        // Width and height may be NULL: they sort first ascending, as SQLite does by itself.
        let nulls = match (dialect, q.sort.key, q.sort.descending) {
            (Dialect::Postgres, SortKey::Width | SortKey::Height, false) => " NULLS FIRST",
            (Dialect::Postgres, SortKey::Width | SortKey::Height, true) => " NULLS LAST",
            _ => "",
        };
        let order = format!(
            "ORDER BY {} {direction}{nulls}, {}",
            sort_column(kind, q.sort.key),
            tiebreak(kind)
        );
        // A deferred join: the page is chosen over the narrow rows the filter and the order
        // need (ids and the sort key, from indexes where possible), and only its rows are read
        // whole. Sorting the candidates of an unselective filter then moves keys, not JSON.
        let (inner_from, id, outer_id) = match kind {
            Kind::Folder => ("FROM folders d", "d.folder_id", "d.folder_id"),
            Kind::File
                if !mentions_versions(&branch.where_clause()) && !mentions_versions(&order) =>
            {
                ("FROM files f", "f.current_version_id", "v.version_id")
            }
            _ => (branch.from, "v.version_id", "v.version_id"),
        };
        let limit = b.int(i64::from(q.limit));
        let offset = b.int(i64::try_from(q.skip).unwrap_or(i64::MAX));
        let inner = format!(
            "SELECT {id} {inner_from}{} {order} LIMIT {limit} OFFSET {offset}",
            branch.where_clause()
        );
        let text = format!(
            "{} {} WHERE {outer_id} IN ({inner}) {order}",
            branch.select, branch.from
        );
        return b.finish(&text);
    } else {
        let union: Vec<String> = branches.iter().map(Branch::full).collect();
        let key = match q.sort.key {
            SortKey::Name => "name",
            SortKey::Created => "created_at",
            SortKey::Updated => "updated_at",
            SortKey::Height => "height",
            SortKey::Width => "width",
            SortKey::Size => "size",
        };
        // Folders have no size: they sort as if their size were the smallest (NULLS FIRST is
        // SQLite's order, made explicit for PostgreSQL).
        let nulls = match (dialect, q.sort.descending) {
            (Dialect::Postgres, false) => " NULLS FIRST",
            (Dialect::Postgres, true) => " NULLS LAST",
            _ => "",
        };
        format!(
            "SELECT * FROM ({}) u ORDER BY u.{key} {direction}{nulls}, u.item_id, u.version_id",
            union.join(" UNION ALL ")
        )
    };
    let limit = b.int(i64::from(q.limit));
    let offset = b.int(i64::try_from(q.skip).unwrap_or(i64::MAX));
    text.push_str(&format!(" LIMIT {limit} OFFSET {offset}"));
    b.finish(&text)
}

fn sort_column(kind: Kind, key: SortKey) -> &'static str {
    match (kind, key) {
        (Kind::Folder, SortKey::Name) => "d.name",
        (Kind::Folder, SortKey::Created | SortKey::Updated) => "d.created_at",
        // Folders have no dimensions or size: all equal, ordered by id.
        (Kind::Folder, _) => "d.created_at * 0",
        (_, SortKey::Name) => "f.name",
        (Kind::File, SortKey::Created) => "f.created_at",
        (Kind::File, SortKey::Updated) => "f.updated_at",
        (Kind::Version, SortKey::Created) => "v.created_at",
        (Kind::Version, SortKey::Updated) => "COALESCE(v.updated_at, v.created_at)",
        (_, SortKey::Height) => "v.height",
        (_, SortKey::Width) => "v.width",
        (_, SortKey::Size) => "v.size",
    }
}

fn tiebreak(kind: Kind) -> &'static str {
    match kind {
        Kind::File => "f.file_id",
        Kind::Version => "f.file_id, v.version_id",
        Kind::Folder => "d.folder_id",
    }
}

fn select_list(b: &Builder, kind: Kind) -> String {
    let pg = b.pg();
    let null = |ty: &str| {
        if pg {
            format!("NULL::{ty}")
        } else {
            "NULL".to_owned()
        }
    };
    match kind {
        Kind::File | Kind::Version => format!(
            "SELECT '{}' AS kind, f.file_id AS item_id, v.version_id, v.version_number, f.name, \
             f.file_path, v.blob_key, v.size, v.width, v.height, v.tags, v.ai_tags, \
             v.custom_metadata, v.custom_coordinates, v.is_private_file, v.is_published, \
             v.description, v.media, {}, v.created_at AS version_created_at, \
             COALESCE(v.updated_at, v.created_at) AS version_updated_at, \
             f.created_at AS file_created_at, f.updated_at AS file_updated_at",
            kind.type_name(),
            if kind == Kind::File {
                "f.created_at, f.updated_at"
            } else {
                "v.created_at, COALESCE(v.updated_at, v.created_at) AS updated_at"
            }
        ),
        Kind::Folder => format!(
            "SELECT 'folder' AS kind, d.folder_id AS item_id, {text} AS version_id, \
             {int} AS version_number, d.name, d.path AS file_path, {text} AS blob_key, \
             {int} AS size, {int} AS width, {int} AS height, {text} AS tags, {text} AS ai_tags, \
             {text} AS custom_metadata, {text} AS custom_coordinates, {bool} AS is_private_file, \
             {bool} AS is_published, {text} AS description, {text} AS media, d.created_at, \
             d.created_at AS updated_at, {int} AS version_created_at, \
             {int} AS version_updated_at, {int} AS file_created_at, {int} AS file_updated_at",
            text = null("text"),
            int = null("bigint"),
            bool = null("boolean"),
        ),
    }
}

/// One kind's `SELECT`, or `None` when its predicate is false.
fn branch(b: &mut Builder, q: &ListQuery, kind: Kind, account_id: &str) -> Option<Branch> {
    let select = select_list(b, kind);
    let from = match kind {
        Kind::File => "FROM files f JOIN file_versions v ON v.version_id = f.current_version_id",
        Kind::Version => {
            "FROM files f JOIN file_versions v ON v.file_id = f.file_id \
             AND v.version_id <> f.current_version_id"
        }
        Kind::Folder => "FROM folders d",
    };
    let account_col = if kind == Kind::Folder {
        "d.account_id"
    } else {
        "f.account_id"
    };
    let account = b.text(account_id);
    let mut parts = vec![Pred::Sql(format!("{account_col} = {account}"))];
    if let Some(path) = &q.path {
        let col = if kind == Kind::Folder {
            "d.parent_path"
        } else {
            "f.folder_path"
        };
        let p = b.text(path);
        parts.push(Pred::Sql(format!("{col} = {p}")));
    }
    if kind != Kind::Folder {
        match q.file_type {
            FileTypeFilter::All => {}
            FileTypeFilter::Image => parts.push(Pred::Sql("v.file_type = 'image'".to_owned())),
            FileTypeFilter::NonImage => parts.push(Pred::Sql("v.file_type <> 'image'".to_owned())),
        }
    }
    match &q.search {
        Some(search) => parts.push(expr(b, &search.expr, kind, account_id)),
        None => {
            if let Some(tags) = &q.tags {
                let values: Vec<Value> = tags.iter().map(|t| Value::Str(t.clone())).collect();
                parts.push(condition(
                    b,
                    &Field::Tags,
                    &Op::In {
                        negated: false,
                        values,
                    },
                    kind,
                    account_id,
                ));
            }
            if let Some(name) = &q.name {
                parts.push(condition(
                    b,
                    &Field::Name,
                    &Op::Cmp(Cmp::Eq, Value::Str(name.clone())),
                    kind,
                    account_id,
                ));
            }
        }
    }
    let filter = match Pred::and(parts) {
        Pred::False => return None,
        Pred::True => None,
        Pred::Sql(w) => Some(w),
    };
    Some(Branch {
        kind,
        select,
        from,
        filter,
    })
}

/// One kind's `SELECT`, in parts.
struct Branch {
    kind: Kind,
    select: String,
    from: &'static str,
    filter: Option<String>,
}

impl Branch {
    fn where_clause(&self) -> String {
        self.filter
            .as_ref()
            .map_or(String::new(), |w| format!(" WHERE {w}"))
    }

    fn full(&self) -> String {
        format!("{} {}{}", self.select, self.from, self.where_clause())
    }
}

/// Whether `sql` refers to the alias `v` (a `v.` not preceded by an identifier character).
fn mentions_versions(sql: &str) -> bool {
    sql.match_indices("v.").any(|(at, _)| {
        sql[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
    })
}

fn expr(b: &mut Builder, e: &Expr, kind: Kind, account_id: &str) -> Pred {
    match e {
        Expr::And(c) => Pred::and(c.iter().map(|e| expr(b, e, kind, account_id)).collect()),
        Expr::Or(c) => Pred::or(c.iter().map(|e| expr(b, e, kind, account_id)).collect()),
        Expr::Cond(c) => condition(b, &c.field, &c.op, kind, account_id),
    }
}

/// What a missing value gives (spec §7.4, applied to search): only the negations hold.
fn missing(op: &Op) -> Pred {
    Pred::constant(matches!(
        op,
        Op::Cmp(Cmp::Ne, _) | Op::In { negated: true, .. } | Op::Exists(false)
    ))
}

fn condition(b: &mut Builder, field: &Field, op: &Op, kind: Kind, account_id: &str) -> Pred {
    let folder = kind == Kind::Folder;
    match field {
        Field::Type => Pred::constant(type_holds(op, kind)),
        Field::Name => {
            let col = if folder { "d.name" } else { "f.name" };
            text_column(b, col, op)
        }
        Field::Id => text_column(b, if folder { "d.folder_id" } else { "f.file_id" }, op),
        Field::Path => text_column(
            b,
            if folder {
                "d.parent_path"
            } else {
                "f.folder_path"
            },
            op,
        ),
        Field::CreatedAt | Field::UpdatedAt => {
            let col = match (kind, field) {
                (Kind::Folder, _) => "d.created_at",
                (Kind::Version, _) => "v.created_at",
                (Kind::File, Field::CreatedAt) => "f.created_at",
                _ => "f.updated_at",
            };
            int_column(b, col, op, false)
        }
        _ if folder => missing(op),
        Field::Size => int_column(b, "v.size", op, false),
        Field::Width => int_column(b, "v.width", op, true),
        Field::Height => int_column(b, "v.height", op, true),
        Field::Private => bool_column(b, "v.is_private_file", op),
        Field::Published => bool_column(b, "v.is_published", op),
        Field::Tags => {
            // On current files the version is `f.current_version_id` (the join's condition),
            // which spares the `file_versions` join where nothing else needs it.
            let version = if kind == Kind::File {
                "f.current_version_id"
            } else {
                "v.version_id"
            };
            tags(b, op, account_id, version)
        }
        Field::Format => json_member(b, MediaDoc::Media, "format", op, JsonKind::Str),
        Field::Transparency => json_member(b, MediaDoc::Media, "hasAlpha", op, JsonKind::Bool),
        Field::VideoDuration => json_member(b, MediaDoc::Media, "duration", op, JsonKind::Num),
        Field::Embedded(name) => {
            let kind = if name == "DateTimeOriginal" {
                JsonKind::ExifDate
            } else {
                JsonKind::Any
            };
            json_member(b, MediaDoc::Embedded, name, op, kind)
        }
        Field::Custom { name, kind } => {
            let kind = match kind {
                CustomFieldType::Date => JsonKind::IsoDate,
                _ => JsonKind::Any,
            };
            json_member(b, MediaDoc::Custom, name, op, kind)
        }
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `HAS`: every word a whole token, the last a token prefix (case-insensitive).
fn has(b: &mut Builder, column: &str, words: &[String]) -> Pred {
    let normalised = if b.pg() {
        format!("(' ' || regexp_replace(lower({column}), '[^[:alnum:]]+', ' ', 'g') || ' ')")
    } else {
        // SQLite has no regexp: the separators file names use become spaces.
        format!(
            "(' ' || lower(replace(replace(replace(replace(replace({column}, '_', ' '), '-', ' '), \
             '.', ' '), '/', ' '), ',', ' ')) || ' ')"
        )
    };
    let mut parts = Vec::new();
    for (i, word) in words.iter().enumerate() {
        // Words are alphanumeric (the parser split on everything else): no LIKE escapes needed.
        let pattern = if i + 1 == words.len() {
            format!("% {word}%")
        } else {
            format!("% {word} %")
        };
        let p = b.text(&pattern);
        parts.push(Pred::Sql(format!("{normalised} LIKE {p}")));
    }
    Pred::and(parts)
}

/// A non-null text column.
fn text_column(b: &mut Builder, col: &str, op: &Op) -> Pred {
    match op {
        Op::Cmp(cmp, v) => {
            let p = b.text(&value_text(v));
            Pred::Sql(format!("{col} {} {p}", cmp.sql()))
        }
        Op::Prefix(prefix) => b.prefix(col, prefix),
        Op::In { negated, values } => {
            let list: Vec<String> = values.iter().map(|v| b.text(&value_text(v))).collect();
            let not = if *negated { "NOT " } else { "" };
            Pred::Sql(format!("{col} {not}IN ({})", list.join(", ")))
        }
        Op::Has(words) => has(b, col, words),
        Op::Exists(present) => Pred::constant(*present),
    }
}

fn bool_column(b: &mut Builder, col: &str, op: &Op) -> Pred {
    match op {
        Op::Cmp(Cmp::Eq, Value::Bool(v)) => Pred::Sql(if b.pg() {
            format!("{col} = {v}")
        } else {
            format!("{col} = {}", i32::from(*v))
        }),
        _ => Pred::False,
    }
}

/// The number a value stands for on an integer column (dates: milliseconds).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Num(n) => Some(*n),
        Value::Date(ms) => Some(*ms as f64),
        _ => None,
    }
}

/// An integer column compared with a possibly fractional literal, as integer comparisons (so
/// PostgreSQL uses the bigint index): `< 10.5` is `<= 10`, `= 10.5` is false.
fn int_column(b: &mut Builder, col: &str, op: &Op, nullable: bool) -> Pred {
    const MAX: f64 = 9.2e18;
    let or_null = |p: Pred| -> Pred {
        if nullable {
            Pred::or(vec![Pred::Sql(format!("{col} IS NULL")), p])
        } else {
            p
        }
    };
    let present = || -> Pred {
        if nullable {
            Pred::Sql(format!("{col} IS NOT NULL"))
        } else {
            Pred::True
        }
    };
    match op {
        Op::Cmp(cmp, v) => {
            let Some(x) = number(v) else {
                return Pred::False;
            };
            if let Value::Date(ms) = v {
                let p = b.int(*ms);
                let sql = Pred::Sql(format!("{col} {} {p}", cmp.sql()));
                return if *cmp == Cmp::Ne { or_null(sql) } else { sql };
            }
            // Beyond i64 every stored value compares the same way.
            if x.abs() > MAX {
                let above = x > 0.0;
                return match cmp {
                    Cmp::Eq => Pred::False,
                    Cmp::Ne => Pred::True,
                    Cmp::Lt | Cmp::Le => Pred::and(vec![present(), Pred::constant(above)]),
                    Cmp::Gt | Cmp::Ge => Pred::and(vec![present(), Pred::constant(!above)]),
                };
            }
            let integral = x.fract() == 0.0;
            let (sql_op, bound) = match cmp {
                Cmp::Eq if !integral => return Pred::False,
                Cmp::Ne if !integral => return Pred::True,
                Cmp::Eq | Cmp::Ne => (cmp.sql(), x),
                Cmp::Lt if integral => ("<", x),
                Cmp::Lt | Cmp::Le => ("<=", x.floor()),
                Cmp::Gt if integral => (">", x),
                Cmp::Gt | Cmp::Ge => (">=", x.ceil()),
            };
            let p = b.int(bound as i64);
            let sql = Pred::Sql(format!("{col} {sql_op} {p}"));
            if *cmp == Cmp::Ne {
                or_null(sql)
            } else {
                sql
            }
        }
        Op::In { negated, values } => {
            let ints: Vec<i64> = values
                .iter()
                .filter_map(number)
                .filter(|x| x.fract() == 0.0 && x.abs() <= MAX)
                .map(|x| x as i64)
                .collect();
            if ints.is_empty() {
                return Pred::constant(*negated);
            }
            let list: Vec<String> = ints.into_iter().map(|i| b.int(i)).collect();
            if *negated {
                or_null(Pred::Sql(format!("{col} NOT IN ({})", list.join(", "))))
            } else {
                Pred::Sql(format!("{col} IN ({})", list.join(", ")))
            }
        }
        Op::Exists(true) => present(),
        Op::Exists(false) => {
            Pred::constant(nullable).and_then(|| Pred::Sql(format!("{col} IS NULL")))
        }
        Op::Prefix(_) | Op::Has(_) => Pred::False,
    }
}

impl Pred {
    fn and_then(self, f: impl FnOnce() -> Pred) -> Pred {
        match self {
            Pred::True => f(),
            other => other,
        }
    }
}

fn tags(b: &mut Builder, op: &Op, account_id: &str, version: &str) -> Pred {
    match op {
        Op::In { negated, values } => {
            let account = b.text(account_id);
            let list: Vec<String> = values.iter().map(|v| b.text(&value_text(v))).collect();
            let not = if *negated { "NOT " } else { "" };
            // SQLite drives the query from the tag list when it can (every version with the
            // tag, then a sort), which grows with the tag's popularity: right for rare tags,
            // 70 ms for one on every other file of 100 000. For common tags the unary `+`
            // keeps the list a probe, so the query walks the sort order's index and stops at
            // the page's end — which, for a tag nobody has, is the whole index. The backend
            // counts the tags' rows first (`Hints::rare_tags`) to pick. PostgreSQL weighs the
            // tag's frequency from its statistics and is left to choose.
            let version = if b.pg() || b.hints.rare_tags {
                version.to_owned()
            } else {
                format!("+{version}")
            };
            Pred::Sql(format!(
                "{version} {not}IN (SELECT t.version_id FROM version_tags t \
                 WHERE t.account_id = {account} AND t.tag IN ({}))",
                list.join(", ")
            ))
        }
        Op::Exists(present) => {
            let not = if *present { "" } else { "NOT " };
            Pred::Sql(format!(
                "{not}EXISTS (SELECT 1 FROM version_tags t WHERE t.version_id = {version})"
            ))
        }
        _ => Pred::False,
    }
}

/// Which JSON document a member lives in.
#[derive(Clone, Copy)]
enum MediaDoc {
    /// `file_versions.media` (top-level members: `format`, `hasAlpha`, `duration`).
    Media,
    /// `media.embedded`.
    Embedded,
    /// `file_versions.custom_metadata`.
    Custom,
}

/// How a JSON member's value is compared.
#[derive(Clone, Copy, PartialEq)]
enum JsonKind {
    Str,
    Num,
    Bool,
    /// Whatever JSON type the literal has; arrays match by element for `IN`.
    Any,
    /// An ISO 8601 string, compared as an instant.
    IsoDate,
    /// EXIF `YYYY:MM:DD HH:MM:SS` text, compared as text with the literal in that form.
    ExifDate,
}

/// A condition on one member of a JSON document, as an `EXISTS` over the document's members
/// (`json_each` / `jsonb_each`), matched by key. The key is a bind value, never spliced into a
/// JSON path, so any field name is safe. Negations are `NOT EXISTS` of the positive form, which
/// makes a missing member satisfy them (spec §7.4).
fn json_member(b: &mut Builder, doc: MediaDoc, key: &str, op: &Op, kind: JsonKind) -> Pred {
    let pg = b.pg();
    let source = match (doc, pg) {
        (MediaDoc::Media, false) => "json_each(v.media)".to_owned(),
        (MediaDoc::Embedded, false) => "json_each(v.media, '$.embedded')".to_owned(),
        (MediaDoc::Custom, false) => "json_each(v.custom_metadata)".to_owned(),
        (MediaDoc::Media, true) => "jsonb_each(v.media::jsonb)".to_owned(),
        (MediaDoc::Embedded, true) => {
            "jsonb_each(COALESCE(v.media::jsonb -> 'embedded', '{}'::jsonb))".to_owned()
        }
        (MediaDoc::Custom, true) => "jsonb_each(v.custom_metadata::jsonb)".to_owned(),
    };
    let k = b.text(key);
    let (negated, inner) = match op {
        Op::Exists(present) => (!present, json_not_null(pg)),
        Op::Cmp(Cmp::Ne, v) => (true, json_cmp(b, Cmp::Eq, v, kind)),
        Op::Cmp(cmp, v) => (false, json_cmp(b, *cmp, v, kind)),
        Op::Prefix(prefix) => (false, json_prefix(b, prefix)),
        Op::Has(words) => {
            let text = if pg { "(j.value #>> '{}')" } else { "j.value" };
            let guard = json_is(pg, "string");
            match has(b, text, words) {
                Pred::Sql(s) => (false, format!("{guard} AND {s}")),
                _ => (false, "1 = 0".to_owned()),
            }
        }
        Op::In { negated, values } => {
            let array_wise = kind == JsonKind::Any;
            let mut alternatives = Vec::new();
            for v in values {
                if array_wise {
                    alternatives.push(json_cmp_on(b, "e", Cmp::Eq, v, kind));
                } else {
                    alternatives.push(json_cmp(b, Cmp::Eq, v, kind));
                }
            }
            let any = format!("({})", alternatives.join(" OR "));
            let inner = if array_wise {
                let elements = if pg {
                    "jsonb_array_elements(CASE WHEN jsonb_typeof(j.value) = 'array' \
                     THEN j.value ELSE jsonb_build_array(j.value) END) e(value)"
                } else {
                    // json_array(j.value) would turn a boolean into 0/1.
                    "json_each(CASE WHEN j.type = 'array' THEN j.value \
                     WHEN j.type IN ('true', 'false') THEN '[' || j.type || ']' \
                     ELSE json_array(j.value) END) e"
                };
                format!("EXISTS (SELECT 1 FROM {elements} WHERE {any})")
            } else {
                any
            };
            (*negated, inner)
        }
    };
    let not = if negated { "NOT " } else { "" };
    Pred::Sql(format!(
        "{not}EXISTS (SELECT 1 FROM {source} j WHERE j.key = {k} AND {inner})"
    ))
}

fn json_not_null(pg: bool) -> String {
    if pg {
        "jsonb_typeof(j.value) <> 'null'".to_owned()
    } else {
        "j.type <> 'null'".to_owned()
    }
}

/// `alias.value` has JSON type `ty` (`string`, `number`, `boolean`).
fn json_is_on(pg: bool, alias: &str, ty: &str) -> String {
    if pg {
        match ty {
            "boolean" => format!("jsonb_typeof({alias}.value) = 'boolean'"),
            other => format!("jsonb_typeof({alias}.value) = '{other}'"),
        }
    } else {
        match ty {
            "string" => format!("{alias}.type = 'text'"),
            "number" => format!("{alias}.type IN ('integer', 'real')"),
            _ => format!("{alias}.type IN ('true', 'false')"),
        }
    }
}

fn json_is(pg: bool, ty: &str) -> String {
    json_is_on(pg, "j", ty)
}

fn json_prefix(b: &mut Builder, prefix: &str) -> String {
    let pg = b.pg();
    let guard = json_is(pg, "string");
    let length = prefix.chars().count() as i64;
    let n = b.int(length);
    let p = b.text(prefix);
    if pg {
        format!("{guard} AND left(j.value #>> '{{}}', {n}::int) = {p}")
    } else {
        format!("{guard} AND substr(j.value, 1, {n}) = {p}")
    }
}

fn json_cmp(b: &mut Builder, cmp: Cmp, v: &Value, kind: JsonKind) -> String {
    json_cmp_on(b, "j", cmp, v, kind)
}

/// `alias.value` compared with a literal; false when the JSON type does not fit.
fn json_cmp_on(b: &mut Builder, alias: &str, cmp: Cmp, v: &Value, kind: JsonKind) -> String {
    let pg = b.pg();
    let op = cmp.sql();
    let text_of = if pg {
        format!("({alias}.value #>> '{{}}')")
    } else {
        format!("{alias}.value")
    };
    match (kind, v) {
        (JsonKind::ExifDate, Value::Date(ms)) => {
            let exif = exif_text(*ms);
            let p = b.text(&exif);
            format!("{} AND {text_of} {op} {p}", json_is_on(pg, alias, "string"))
        }
        (JsonKind::IsoDate, Value::Date(ms)) => {
            let p = b.int(*ms);
            let instant = if pg {
                format!(
                    "(extract(epoch FROM CASE WHEN {text_of} ~ '([zZ]|[+-][0-9][0-9]:[0-9][0-9])$' \
                     THEN {text_of}::timestamptz ELSE ({text_of}::timestamp AT TIME ZONE 'UTC') END) \
                     * 1000)"
                )
            } else {
                format!("CAST(round((julianday({text_of}) - 2440587.5) * 86400000) AS INTEGER)")
            };
            format!("{} AND {instant} {op} {p}", json_is_on(pg, alias, "string"))
        }
        (_, Value::Str(s)) => {
            let p = b.text(s);
            format!("{} AND {text_of} {op} {p}", json_is_on(pg, alias, "string"))
        }
        (_, Value::Num(n)) => {
            let p = b.real(*n);
            let num = if pg {
                format!("({alias}.value #>> '{{}}')::float8")
            } else {
                format!("{alias}.value")
            };
            format!("{} AND {num} {op} {p}", json_is_on(pg, alias, "number"))
        }
        (_, Value::Bool(flag)) => {
            let wanted = if pg {
                format!("{alias}.value = '{flag}'::jsonb")
            } else {
                format!("{alias}.type = '{flag}'")
            };
            match cmp {
                Cmp::Eq => wanted,
                _ => "1 = 0".to_owned(),
            }
        }
        (_, Value::Date(ms)) => {
            let p = b.int(*ms);
            format!("{} AND {text_of} {op} {p}", json_is_on(pg, alias, "number"))
        }
    }
}

/// `YYYY:MM:DD HH:MM:SS`, the EXIF date form `embeddedMetadata` keeps.
fn exif_text(ms: i64) -> String {
    let iso = folio_contract::search::format_millis(ms);
    // 2024-01-31T12:00:00.000Z -> 2024:01:31 12:00:00
    let date = iso.get(0..10).unwrap_or_default().replace('-', ":");
    let time = iso.get(11..19).unwrap_or_default();
    format!("{date} {time}")
}

#[cfg(test)]
mod tests;
